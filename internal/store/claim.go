package store

// DefaultClaimLimit applies when ClaimParams.Limit is not above 0.
const DefaultClaimLimit = 100

// ClaimMaxRead bounds the rows one claim reads, when capped endpoints make
// it page through the due rows: a claim must stay short even when a few
// endpoints hold the whole backlog.
const ClaimMaxRead = 10000

// ClaimPicker picks the deliveries of one DeliveriesClaim from due rows
// that the driver reads in due order, page by page: at most the claim's
// limit, at most PerEndpoint of one endpoint when above 0. Once an
// endpoint reaches its cap, the driver leaves it out of the next pages
// (Capped) in SQL, so that one endpoint's large backlog at the head of the
// queue is stepped over in the index rather than row by row in Go.
type ClaimPicker struct {
	limit, perEndpoint, page int
	ids                      []string
	perEp                    map[string]int
	capped                   []string
	read, pageRead           int
}

// NewClaimPicker starts picking for p.
func NewClaimPicker(p ClaimParams) *ClaimPicker {
	lim := p.Limit
	if lim <= 0 {
		lim = DefaultClaimLimit
	}
	page := lim
	if p.PerEndpoint > 0 {
		page = max(lim, 100)
	}
	return &ClaimPicker{limit: lim, perEndpoint: p.PerEndpoint, page: page, perEp: map[string]int{}}
}

// Page is how many rows the driver reads per page.
func (c *ClaimPicker) Page() int { return c.page }

// Offer counts one due row read and picks it unless the claim is full or
// its endpoint has reached its cap.
func (c *ClaimPicker) Offer(id, endpointID string) {
	c.pageRead++
	if c.Full() {
		return
	}
	if c.perEndpoint > 0 {
		if c.perEp[endpointID] >= c.perEndpoint {
			return
		}
		if c.perEp[endpointID]++; c.perEp[endpointID] == c.perEndpoint {
			c.capped = append(c.capped, endpointID)
		}
	}
	c.ids = append(c.ids, id)
}

// Full reports whether the claim has all it may take.
func (c *ClaimPicker) Full() bool { return len(c.ids) >= c.limit }

// Capped returns the endpoints that reached their cap, for the next page
// to leave out.
func (c *ClaimPicker) Capped() []string { return c.capped }

// NextPage ends a page and reports whether another one is worth reading:
// not when the claim is full, the page came short (nothing more is due),
// no cap skipped rows, or ClaimMaxRead rows were read.
func (c *ClaimPicker) NextPage() bool {
	n := c.pageRead
	c.pageRead = 0
	c.read += n
	return !c.Full() && n >= c.page && c.perEndpoint > 0 && c.read < ClaimMaxRead
}

// IDs returns the picked deliveries' ids, in due order.
func (c *ClaimPicker) IDs() []string { return c.ids }

// Package console serves the operators' console (/console/) and the
// customers' portal (/portal/): one single-page app written as plain
// JavaScript modules and a stylesheet, embedded in the binary, with no
// build step. The pages call the public REST API with the signed-in
// token, so the API stays the one place where rules are enforced.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// asset is one embedded file with the ETag that lets browsers revalidate
// it cheaply.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

// Handler serves the console and the portal. Mount it at /console/ and
// /portal/ (and, optionally, /console and /portal, which redirect).
type Handler struct {
	files map[string]asset
	index asset
	// portalFrame is the frame-ancestors source list of the portal.
	portalFrame string
}

// Options configure the screens.
type Options struct {
	// PortalFrameAncestors lists the origins that may embed the portal in
	// a frame, as FrameAncestors reads them; empty: none.
	PortalFrameAncestors string
}

// originRE is one origin of a frame-ancestors list: a scheme, a host
// (its leftmost label may be *) and a port, nothing else, so that a value
// cannot add directives to the policy.
var originRE = regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?/?$`)

// FrameAncestors reads a space- or comma-separated list of origins
// (https://app.example.com, https://*.example.com, 'self') into the
// source list of a frame-ancestors directive; an empty list is 'none'.
func FrameAncestors(list string) (string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch {
		case o == "'self'":
		case o == "*" || o == "'none'":
			return "", fmt.Errorf("%s: list the origins that may embed the portal, such as https://app.example.com (unset: none may)", o)
		case !originRE.MatchString(o):
			return "", fmt.Errorf("%q is not an origin: give scheme and host (and port), such as https://app.example.com or https://*.example.com", o)
		}
		out = append(out, strings.TrimSuffix(o, "/"))
	}
	if len(out) == 0 {
		return "'none'", nil
	}
	return strings.Join(out, " "), nil
}

// New loads the embedded assets. Options are checked by FrameAncestors
// beforehand; a list it refuses lets no site frame the portal.
func New(o Options) *Handler {
	frame, err := FrameAncestors(o.PortalFrameAncestors)
	if err != nil {
		frame = "'none'"
	}
	h := &Handler{files: map[string]asset{}, portalFrame: frame}
	_ = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		h.files[strings.TrimPrefix(p, "assets/")] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ct}
		return nil
	})
	h.index = h.files["index.html"]
	return h
}

// ServeHTTP answers /console/assets/… with the file and every other path
// under /console/ and /portal/ with the app's page, which routes in the
// browser: any deep link can be reloaded or opened in a new tab.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/console" || p == "/portal" {
		http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if rest, ok := strings.CutPrefix(p, "/console/assets/"); ok {
		a, found := h.files[rest]
		if !found || rest == "index.html" {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, a)
		return
	}
	// The portal is made to sit in an iframe of the product's pages, the
	// ones the operator lists (--portal-frame-ancestors); the console,
	// which holds an operator's key, is never framed.
	frame := "'none'"
	if strings.HasPrefix(p, "/portal/") {
		frame = h.portalFrame
	}
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: http: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors "+frame)
	h.serve(w, r, h.index)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a asset) {
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("ETag", a.etag)
	// Revalidated on every load: a new binary's assets show at once.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

package template

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// dateTok is one piece of a compiled date format.
type dateTok struct {
	kind byte // 'Y', 'M', 'D', 'H', 'm', 's', 'S', 'Z', or 0 for lit
	lit  string
}

// dateSpec is a compiled date:"FORMAT" argument.
type dateSpec struct {
	special string // "rfc3339", "unix" or ""
	toks    []dateTok
}

// dateTokens are matched longest first at each position of a format.
var dateTokens = []struct {
	text string
	kind byte
}{
	{"YYYY", 'Y'}, {"SSS", 'S'}, {"MM", 'M'}, {"DD", 'D'},
	{"HH", 'H'}, {"mm", 'm'}, {"ss", 's'}, {"Z", 'Z'},
}

func compileDate(format string) dateSpec {
	if format == "rfc3339" || format == "unix" {
		return dateSpec{special: format}
	}
	var toks []dateTok
	lit := 0
	for i := 0; i < len(format); {
		matched := false
		for _, t := range dateTokens {
			if strings.HasPrefix(format[i:], t.text) {
				if i > lit {
					toks = append(toks, dateTok{lit: format[lit:i]})
				}
				toks = append(toks, dateTok{kind: t.kind})
				i += len(t.text)
				lit = i
				matched = true
				break
			}
		}
		if !matched {
			i++
		}
	}
	if lit < len(format) {
		toks = append(toks, dateTok{lit: format[lit:]})
	}
	return dateSpec{toks: toks}
}

// apply formats a time given as RFC 3339 text or Unix seconds.
func (d *dateSpec) apply(v value) (value, bool) {
	t, ok := parseTime(v)
	if !ok {
		return value{}, false
	}
	switch d.special {
	case "rfc3339":
		return stringValue(t.Format(time.RFC3339)), true
	case "unix":
		return value{k: kNumber, s: strconv.FormatInt(t.Unix(), 10)}, true
	}
	b := make([]byte, 0, 32)
	for _, tok := range d.toks {
		switch tok.kind {
		case 0:
			b = append(b, tok.lit...)
		case 'Y':
			b = appendPadded(b, t.Year(), 4)
		case 'M':
			b = appendPadded(b, int(t.Month()), 2)
		case 'D':
			b = appendPadded(b, t.Day(), 2)
		case 'H':
			b = appendPadded(b, t.Hour(), 2)
		case 'm':
			b = appendPadded(b, t.Minute(), 2)
		case 's':
			b = appendPadded(b, t.Second(), 2)
		case 'S':
			b = appendPadded(b, t.Nanosecond()/1e6, 3)
		case 'Z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = appendPadded(b, off/3600, 2)
			b = append(b, ':')
			b = appendPadded(b, off%3600/60, 2)
		}
	}
	return stringValue(string(b)), true
}

func appendPadded(b []byte, n, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// parseTime reads RFC 3339 text (keeping its offset), or Unix seconds as a
// number or as a string of digits (in UTC).
func parseTime(v value) (time.Time, bool) {
	switch v.k {
	case kString:
		if t, err := time.Parse(time.RFC3339Nano, v.s); err == nil {
			return t, true
		}
		if isJSONNumber(v.s) {
			return unixTime(v.s)
		}
	case kNumber:
		return unixTime(v.s)
	}
	return time.Time{}, false
}

// minUnix and maxUnix bound Unix seconds to years 0 to 9999, the range
// RFC 3339 can write.
const (
	minUnix = -62167219200
	maxUnix = 253402300799
)

// unixTime reads Unix seconds, exactly for plain decimals (1700000000.123
// keeps its milliseconds) and through float64 for exponents.
func unixTime(s string) (time.Time, bool) {
	if !isJSONNumber(s) {
		return time.Time{}, false
	}
	var sec, nsec int64
	if !strings.ContainsAny(s, "eE") {
		ip, fp, _ := strings.Cut(s, ".")
		n, err := strconv.ParseInt(ip, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		sec = n
		if fp != "" {
			fp = (fp + "000000000")[:9]
			f, _ := strconv.ParseInt(fp, 10, 64)
			if strings.HasPrefix(ip, "-") {
				f = -f
			}
			nsec = f
		}
	} else {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < minUnix-1 || f > maxUnix+1 {
			return time.Time{}, false
		}
		whole := math.Trunc(f)
		sec, nsec = int64(whole), int64((f-whole)*1e9)
	}
	t := time.Unix(sec, nsec).UTC()
	if t.Unix() < minUnix || t.Unix() > maxUnix {
		return time.Time{}, false
	}
	return t, true
}

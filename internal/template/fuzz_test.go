package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzTitles = map[string]string{"会社名": "company", "t": "a.b", "bad": "a..b", "": "x"}

func fuzzData(payload []byte) (*Data, bool) {
	p, err := DecodePayload(payload)
	if err != nil {
		return nil, false
	}
	return &Data{
		Payload:  p,
		Event:    EventInfo{ID: "evt_<1>", Type: "a\"b", Timestamp: time.Unix(1714555805, 0)},
		App:      AppInfo{ID: "app\n1", UID: "u\u2028", Name: "\xff"},
		Endpoint: EndpointInfo{ID: "ep"},
	}, true
}

func checkParseError(t *testing.T, err error, src string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if pe.Pos < 0 || pe.Pos > len(src) || pe.Line < 1 || pe.Col < 1 {
		t.Fatalf("bad position %+v for %q", pe, src)
	}
}

func checkRenderError(t *testing.T, err error) {
	t.Helper()
	var me *MissingError
	var fe *FilterError
	if err != nil && !errors.As(err, &me) && !errors.As(err, &fe) {
		t.Fatalf("strict render error %v (%T)", err, err)
	}
}

func FuzzParseText(f *testing.F) {
	// Seeds: the documented syntax, filters with every kind of argument,
	// and the edge cases of delimiters.
	f.Add("Hello {{name | upper}}", `{"name":"x"}`, false)
	f.Add("{{ lead.company | default:\"n/a\" | upper }}", `{"lead":{"company":null}}`, false)
	f.Add("#{items.0.sku | truncate:3}", `{"items":[{"sku":"ABCDE"}]}`, true)
	f.Add("{{{x}}} }} { #{x}", `{"x":1}`, false)
	f.Add("{{t | date:\"YYYY-MM-DD HH:mm:ss.SSS Z\"}}", `{"t":"2024-05-01T18:30:05.123+09:00"}`, false)
	f.Add("{{t | date:\"unix\"}}{{t|date:\"rfc3339\"}}", `{"t":1714555805.5}`, false)
	f.Add("{{会社名 | urlencode}}{{payload | json}}", `{"company":"ヘラルド"}`, false)
	f.Add("{{event.timestamp}}{{app.name}}{{payload.event.id}}", `{"event":{"id":1}}`, false)
	f.Add("{{x | default:\"}}\\u00e9\" | lower}}", `null`, false)
	f.Add("{{a | default:-1.5e3}}", `[]`, false)
	f.Add("{{a", `{}`, false)
	f.Add("#{a | default:\"x}", `{}`, true)
	f.Fuzz(func(t *testing.T, src, payload string, hash bool) {
		syn := Braces
		if hash {
			syn = Hash
		}
		tm, err := ParseText(src, Options{Syntax: syn, Titles: fuzzTitles})
		if err != nil {
			checkParseError(t, err, src)
			return
		}
		d, ok := fuzzData([]byte(payload))
		if !ok {
			d = &Data{Payload: payload}
		}
		out, err := tm.Render(d)
		if err != nil {
			t.Fatalf("non-strict Render: %v", err)
		}
		if len(tm.Paths()) == 0 && out != src {
			t.Fatalf("template without tags rendered %q, want %q", out, src)
		}
		if _, err := tm.RenderEscaped(d, url.PathEscape); err != nil {
			t.Fatalf("non-strict RenderEscaped: %v", err)
		}
		strict, err := ParseText(src, Options{Syntax: syn, Titles: fuzzTitles, Strict: true})
		if err != nil {
			t.Fatalf("parses non-strict but not strict: %v", err)
		}
		_, err = strict.Render(d)
		checkRenderError(t, err)
	})
}

func FuzzRenderJSON(f *testing.F) {
	// Seeds: typed insertion, text insertion, keys, escapes in the
	// template, hostile payload strings, deep nesting and form fields.
	f.Add(`{"a":"{{n}}","b":"x {{s}}","{{s}}":1,"c":[1.50,true,null]}`, `{"n":12345678901234567890,"s":"</script>\u2028\"\n"}`, false)
	f.Add(`{"a":"#{o}","b":"#{o | json}","c":"#{o | upper}"}`, `{"o":{"k":["\u0000",{"x":null}]}}`, true)
	f.Add(`"{{payload}}"`, `[[[[[[[[[[1]]]]]]]]]]`, false)
	f.Add(`{"a":"\u007b{s}}","b":"\ud83d\ude00{{s|truncate:1}}"}`, `{"s":"😀😀"}`, false)
	f.Add(`{"t":"{{t | date:\"unix\"}}","u":"{{t | date:\"YYYY年\"}}"}`, `{"t":"2024-05-01T18:30:05+09:00"}`, false)
	f.Add(`{"m":"{{missing | default:0}}","e":"{{event.id}}","x":"{{会社名}}"}`, `{"company":"<&>"}`, false)
	f.Add(`[{"{{a}}":"{{a}}"}, "{{a.0}}"]`, `{"a":["\ud800"]}`, false)
	f.Add(`{"a":"{{x}"}`, `{}`, false)
	f.Add(`{"a":}`, `{}`, false)
	f.Fuzz(func(t *testing.T, tmpl, payload string, hash bool) {
		syn := Braces
		if hash {
			syn = Hash
		}
		src := []byte(tmpl)
		tm, err := ParseJSON(src, Options{Syntax: syn, Titles: fuzzTitles})
		if err != nil {
			checkParseError(t, err, tmpl)
			return
		}
		d, ok := fuzzData([]byte(payload))
		if !ok {
			return
		}
		out, err := tm.Render(d)
		if err != nil {
			t.Fatalf("non-strict Render: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON from %q with %q:\n%s", tmpl, payload, out)
		}
		if bytes.ContainsAny(out, "<>&\u2028\u2029") || !utf8.Valid(out) {
			t.Fatalf("unsafe bytes in %s", out)
		}
		if len(tm.Paths()) == 0 {
			// Without tags the output means what the template says.
			if !reflect.DeepEqual(decodeForFuzz(t, src), decodeForFuzz(t, out)) {
				t.Fatalf("template without tags changed:\n%s\n%s", src, out)
			}
		}
		fields, err := tm.RenderFields(d)
		switch {
		case tm.IsObject() && err != nil:
			t.Fatalf("RenderFields: %v", err)
		case !tm.IsObject() && !errors.Is(err, ErrNotObject):
			t.Fatalf("RenderFields of a non-object: %v", err)
		case tm.IsObject() && len(fields) != countMembers(t, src):
			t.Fatalf("RenderFields gave %d fields for %s", len(fields), src)
		}
		strict, err := ParseJSON(src, Options{Syntax: syn, Titles: fuzzTitles, Strict: true})
		if err != nil {
			t.Fatalf("parses non-strict but not strict: %v", err)
		}
		out, err = strict.Render(d)
		checkRenderError(t, err)
		if err == nil && !json.Valid(out) {
			t.Fatalf("strict: invalid JSON %s", out)
		}
		_, err = strict.RenderFields(d)
		if !errors.Is(err, ErrNotObject) {
			checkRenderError(t, err)
		}
	})
}

func decodeForFuzz(t *testing.T, b []byte) any {
	t.Helper()
	v, err := DecodePayload(b)
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// countMembers counts the top-level members of a JSON object, duplicates
// included.
func countMembers(t *testing.T, src []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(src))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestDeepNesting keeps bodies parseable when payload and template nest
// deep together: the part beyond encoding/json's limit becomes null.
func TestDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 9999) + "1" + strings.Repeat("]", 9999)
	p, err := DecodePayload([]byte(`{"v":` + deep + `}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{`"{{v}}"`, `{"a":["{{v}}"]}`, strings.Repeat("[", 9998) + `"{{v}}"` + strings.Repeat("]", 9998)} {
		tm, err := ParseJSON([]byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := tm.Render(&Data{Payload: p})
		if err != nil || !json.Valid(out) {
			t.Errorf("%.20s: invalid output (%d bytes), %v", src, len(out), err)
		}
	}
}

// FuzzDate: the date filter's format is a tenant's template text and its
// input a payload value. Rendering never fails or panics, and gives what a
// plain reading of the format says: each of YYYY, SSS, MM, DD, HH, mm, ss
// and Z, left to right, replaced by that part of the time that RFC 3339
// text or Unix seconds say, or nothing when they say no time.
func FuzzDate(f *testing.F) {
	f.Add("YYYY-MM-DD HH:mm:ss.SSS Z", "2024-05-01T18:30:05.123+09:00", false) // the documented tokens
	f.Add("HH:mm:ss.SSS", "2024-05-01T00:00:05.007Z", false)                   // midnight, 7 ms
	f.Add("YYYY年MM月DD日", "1714555805", false)                                  // Unix seconds as text
	f.Add("unix", "2024-05-01T18:30:05.999999999-00:30", false)                // a negative offset
	f.Add("rfc3339", "1714555805.5", true)                                     // a number with a fraction
	f.Add("YYYYY MMM SSSS ZZ mmm", "-0.5", true)                               // tokens side by side, before 1970
	f.Add("DD/MM", "253402300799", true)                                       // the last second of 9999
	f.Add("DD/MM", "253402300800", true)                                       // one second too late
	f.Add("YYYY", "-62167219200", true)                                        // the first second of year 0
	f.Add("HH", "1.7e9", true)                                                 // an exponent
	f.Add("HH", "1e400", true)                                                 // beyond float64
	f.Add("HH", "2024-05-01", false)                                           // a date without a time
	f.Add("", "2024-05-01T18:30:05Z", false)                                   // an empty format
	f.Add("\xffYY\u2028\"}}", "0", true)                                       // bytes that are not text, quotes, delimiters
	f.Fuzz(func(t *testing.T, format, v string, number bool) {
		// The format and a text value as JSON reads them (invalid UTF-8
		// becomes U+FFFD).
		lit, _ := json.Marshal(format)
		_ = json.Unmarshal(lit, &format)
		payload, _ := json.Marshal(map[string]string{"t": v})
		if number {
			if !isJSONNumber(v) {
				return
			}
			payload = []byte(`{"t":` + v + `}`)
		} else {
			vs, _ := json.Marshal(v)
			_ = json.Unmarshal(vs, &v)
		}
		d, ok := fuzzData(payload)
		if !ok {
			t.Fatalf("payload %s", payload)
		}
		src := "{{t | date:" + string(lit) + "}}"
		tm, err := ParseText(src, Options{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		out, err := tm.Render(d)
		if err != nil {
			t.Fatalf("%s: Render: %v", src, err)
		}
		strict, err := ParseText(src, Options{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		_, strictErr := strict.Render(d)
		want, isTime, exact := referenceDate(format, v, number)
		var fe *FilterError
		switch {
		case !exact:
			// Seconds with an exponent are read through float64: only
			// check that both renderings agree.
			if strictErr != nil && (out != "" || !errors.As(strictErr, &fe)) {
				t.Fatalf("%s on %s: %q, strict %v", src, payload, out, strictErr)
			}
		case isTime:
			if out != want || strictErr != nil {
				t.Fatalf("%s on %s: %q (strict: %v), want %q", src, payload, out, strictErr, want)
			}
		default:
			if out != "" || !errors.As(strictErr, &fe) {
				t.Fatalf("%s on %s is no time: %q, strict %v", src, payload, out, strictErr)
			}
		}
	})
}

// referenceDate formats v as the date filter documents it, if v is a
// time; exact is false for Unix seconds with an exponent, which go through
// float64.
func referenceDate(format, v string, number bool) (out string, isTime, exact bool) {
	if !number {
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return formatDate(format, tm), true, true
		}
	}
	if !isJSONNumber(v) {
		return "", false, true
	}
	if strings.ContainsAny(v, "eE") {
		return "", false, false
	}
	// Seconds and nanoseconds, the fraction cut after nine digits.
	ip, fp, _ := strings.Cut(v, ".")
	fp = (fp + "000000000")[:9]
	ns, _ := new(big.Int).SetString(strings.TrimPrefix(ip, "-")+fp, 10)
	if strings.HasPrefix(ip, "-") {
		ns.Neg(ns)
	}
	sec, rem := new(big.Int).DivMod(ns, big.NewInt(1e9), new(big.Int))
	if sec.Cmp(big.NewInt(minUnix)) < 0 || sec.Cmp(big.NewInt(maxUnix)) > 0 {
		return "", false, true
	}
	return formatDate(format, time.Unix(sec.Int64(), rem.Int64()).UTC()), true, true
}

// formatDate formats t by the documented rules of the date filter.
func formatDate(format string, t time.Time) string {
	switch format {
	case "rfc3339":
		return t.Format(time.RFC3339)
	case "unix":
		return strconv.FormatInt(t.Unix(), 10)
	}
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return strings.NewReplacer(
		"YYYY", fmt.Sprintf("%04d", t.Year()), "SSS", fmt.Sprintf("%03d", t.Nanosecond()/1e6),
		"MM", fmt.Sprintf("%02d", t.Month()), "DD", fmt.Sprintf("%02d", t.Day()),
		"HH", fmt.Sprintf("%02d", t.Hour()), "mm", fmt.Sprintf("%02d", t.Minute()),
		"ss", fmt.Sprintf("%02d", t.Second()), "Z", fmt.Sprintf("%s%02d:%02d", sign, off/3600, off%3600/60),
	).Replace(format)
}

// Package docs_test runs the documentation: every ```sh block of the pages
// listed below runs with bash against a real Herald and a receiver on
// 127.0.0.1, and every ```http block that follows says exactly what the
// receiver must have got; a ```text block right after a ```sh block is
// that block's output, exactly. A page that drifts from what Herald does
// fails here.
package docs_test

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// pages are the documents whose examples run as tests.
var pages = []string{"templates.md", "seeds.md"}

type block struct {
	lang string
	text string
	line int
}

func blocks(t *testing.T, path string) []block {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```") && len(line) > 3:
			cur = &block{lang: strings.TrimSpace(line[3:]), line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return out
}

func TestDocs(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the documentation's examples use curl; install it")
	}
	for _, page := range pages {
		t.Run(page, func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, marketo)
			s := heraldtest.Start(t, heraldtest.Options{})
			env := append(os.Environ(), "HERALD="+s.URL, "TOKEN="+heraldtest.Token, "RECEIVER="+rc.URL)
			seen := 0
			// The block before this one, and what it printed if it ran.
			var prev block
			var prevOut []byte
			for _, b := range blocks(t, page) {
				switch b.lang {
				case "sh":
					cmd := exec.Command("bash", "-euo", "pipefail", "-c", b.text)
					cmd.Env = env
					// As a reader runs them: from the repository's root.
					cmd.Dir = ".."
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s:%d: %v\n%s\n%s", page, b.line, err, b.text, out)
					}
					if apiErrorRE.Match(out) {
						t.Fatalf("%s:%d: the API answered an error:\n%s\n%s", page, b.line, b.text, out)
					}
					prevOut = out
				case "text":
					if prev.lang != "sh" {
						t.Fatalf("%s:%d: a text block is the output of the sh block right before it", page, b.line)
					}
					if string(prevOut) != b.text {
						t.Fatalf("%s:%d: the command at line %d printed\n%s\nthe page says\n%s", page, b.line, prev.line, prevOut, b.text)
					}
				case "http":
					reqs := rc.Wait(t, seen+1, 5*time.Second)
					got := reqs[seen]
					seen++
					want := parseHTTP(b.text)
					if got.Method != want.method || got.Path != want.path {
						t.Fatalf("%s:%d: receiver got %s %s, the page says %s %s", page, b.line, got.Method, got.Path, want.method, want.path)
					}
					// A header the page shows came once, with that value.
					for _, h := range want.headers {
						if v := got.Header.Values(h[0]); len(v) != 1 || v[0] != h[1] {
							t.Fatalf("%s:%d: header %s is %q, the page says %q once", page, b.line, h[0], v, h[1])
						}
					}
					if want.body != "…" && string(got.Body) != want.body {
						t.Fatalf("%s:%d: body\n got: %s\nwant: %s", page, b.line, got.Body, want.body)
					}
				}
				prev = b
			}
			if len(rc.Requests()) != seen {
				t.Fatalf("%s: the receiver got %d requests, the page shows %d", page, len(rc.Requests()), seen)
			}
		})
	}
}

// marketo answers as Marketo's REST API does under /marketo (a token,
// then every lead created), where seeds.md points its Marketo endpoint;
// every other request gets "ok".
func marketo(_ int, w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/marketo/identity/oauth/token":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"marketo-token","token_type":"bearer","expires_in":3599,"scope":"immdio"}`))
	case "/marketo/rest/v1/leads.json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"requestId":"e42b#14272d07d78","success":true,"result":[{"seq":0,"id":50,"status":"created"}]}`))
	default:
		_, _ = w.Write([]byte("ok"))
	}
}

// apiErrorRE finds an API error answer in a command's output.
var apiErrorRE = regexp.MustCompile(`(?m)^\{"error":`)

type wantReq struct {
	method, path string
	headers      [][2]string
	body         string
}

// parseHTTP reads a request as the pages show it: the request line, the
// headers worth checking, a blank line, the body (on one line, or none;
// "…" for any body, where a page shows a catalog's long sample).
func parseHTTP(s string) wantReq {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var w wantReq
	parts := strings.Fields(lines[0])
	w.method, w.path = parts[0], parts[1]
	i := 1
	for ; i < len(lines) && lines[i] != ""; i++ {
		k, v, _ := strings.Cut(lines[i], ":")
		w.headers = append(w.headers, [2]string{http.CanonicalHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v)})
	}
	sort.Slice(w.headers, func(a, b int) bool { return w.headers[a][0] < w.headers[b][0] })
	if i < len(lines) {
		w.body = strings.Join(lines[i+1:], "\n")
	}
	return w
}

package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// The browser tests drive Debian's chromium through the DevTools
// protocol. HERALD_TEST_BROWSER names the browser; when it is unset,
// chromium is looked up on PATH and the tests skip without one. CI sets
// the variable, so there a missing browser fails instead.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HERALD_TEST_BROWSER"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("HERALD_TEST_BROWSER=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH and HERALD_TEST_BROWSER unset: install Debian's chromium package to run the browser tests")
	return ""
}

// screenshotDir is where the tests leave pictures of the main pages for
// people to look at: HERALD_SCREENSHOTS, or screenshots/ beside this file.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("HERALD_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless chromium for a test; tabs share it.
type browser struct {
	t     *testing.T
	alloc context.Context
	mu    sync.Mutex
	// problems are JavaScript exceptions and console errors seen in any
	// tab: the pages must run without them.
	problems []string
	shots    string
	first    context.Context
}

func newBrowser(t *testing.T) *browser {
	path := browserPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return &browser{t: t, alloc: alloc, shots: screenshotDir(t)}
}

// tab is one page of the browser, with its own session storage.
type tab struct {
	b   *browser
	ctx context.Context
}

func (b *browser) tab() *tab {
	listen := func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(parts, " ")
		default:
			return
		}
		b.mu.Lock()
		b.problems = append(b.problems, msg)
		b.mu.Unlock()
	}
	// The first tab starts the browser; the others open beside it (one
	// profile can be used by one browser process only).
	parent := b.alloc
	if b.first != nil {
		parent = b.first
	}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithListener(listen))
	b.t.Cleanup(cancel)
	if b.first == nil {
		b.first = ctx
	}
	// The first run starts the tab (and the browser) for the context's
	// whole life, so it has no timeout of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b.t.Fatalf("start chromium: %v", err)
	}
	return &tab{b: b, ctx: ctx}
}

// checkClean fails the test if any page threw or logged an error.
func (b *browser) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		// An error answer of the API is shown on the page; the browser
		// logs the failed request too, which is not a fault.
		if strings.Contains(p, "Failed to load resource") {
			continue
		}
		b.t.Errorf("browser: %s", p)
	}
}

// fail stops the test with a screenshot and the page's text.
func (tb *tab) fail(err error) {
	tb.b.t.Helper()
	tb.shot("failure-" + strings.ReplaceAll(tb.b.t.Name(), "/", "-"))
	tb.b.t.Fatalf("browser: %v (url %s)\n%s", err, tb.url(), tb.text("body"))
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail(err)
	}
}

func (tb *tab) url() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

// text is an element's visible text ("" when absent).
func (tb *tab) text(sel string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel)))
	return s
}

// until waits for a JavaScript condition to hold.
func (tb *tab) until(js string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second)))
		if err == nil {
			return
		}
		// A page that navigates (the console's / redirects) destroys the
		// context a poll runs in: poll again in the new one.
		if ctx.Err() == nil && (strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed")) {
			continue
		}
		tb.fail(fmt.Errorf("waiting for %s: %w", js, err))
	}
}

// waitText waits until sel's text contains want.
func (tb *tab) waitText(sel, want string) {
	tb.b.t.Helper()
	tb.until(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, want))
}

// waitFor waits until an element matches sel.
func (tb *tab) waitFor(sel string) {
	tb.b.t.Helper()
	tb.until(fmt.Sprintf(`!!document.querySelector(%q)`, sel))
}

// waitNoText waits until sel's text no longer contains text.
func (tb *tab) waitNoText(sel, text string) {
	tb.b.t.Helper()
	tb.until(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.innerText.includes(%q); })()`, sel, text))
}

func (tb *tab) open(url string) { tb.b.t.Helper(); tb.do(chromedp.Navigate(url)) }

// click clicks the first element matching sel once it is visible.
func (tb *tab) click(sel string) {
	tb.b.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// clickText clicks the first element matching sel whose text is text.
func (tb *tab) clickText(sel, text string) {
	tb.b.t.Helper()
	tb.until(fmt.Sprintf(`(() => { const e = [...document.querySelectorAll(%q)].find((e) => e.innerText.trim() === %q); if (e) e.click(); return !!e; })()`, sel, text))
}

// fill replaces a control's text by typing, so that the page sees real
// input events.
func (tb *tab) fill(sel, value string) {
	tb.b.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); if (e.select) e.select(); return true; })()`, sel))(ctx, t)
			return err
		}),
		chromedp.KeyEvent("\b"),
		chromedp.SendKeys(chromedp.CSS(sel), value))
}

// evalAs runs JavaScript in the page and returns its value.
func evalAs[T any](tb *tab, js string) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.fail(err)
	}
	return v
}

func (tb *tab) evalString(js string) string { tb.b.t.Helper(); return evalAs[string](tb, js) }

func (tb *tab) evalBool(js string) bool { tb.b.t.Helper(); return evalAs[bool](tb, js) }

// shot saves a full-page screenshot as <name>.png.
func (tb *tab) shot(name string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(tb.b.shots, name+".png"), buf, 0o644); err != nil {
		tb.b.t.Logf("screenshot %s: %v", name, err)
	}
}

// phone switches the tab to a phone's viewport (or back to a desktop's).
func (tb *tab) phone(on bool) {
	tb.b.t.Helper()
	if on {
		tb.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	} else {
		tb.do(chromedp.EmulateViewport(1280, 900))
	}
}

// unlabelled lists the page's form controls that a screen reader could
// not name: no <label>, no aria-label, no aria-labelledby.
func (tb *tab) unlabelled() []string {
	tb.b.t.Helper()
	v := tb.evalString(`JSON.stringify([...document.querySelectorAll('input, select, textarea, button')]
		.filter((e) => e.type !== 'hidden' && !e.closest('[hidden]'))
		.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.innerText.trim()))
		.map((e) => e.outerHTML.slice(0, 120)))`)
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		tb.fail(err)
	}
	return out
}

// overflowsX says whether the page is wider than the viewport, which at
// phone width means a sideways-scrolling page.
func (tb *tab) overflowsX() bool {
	return tb.evalBool(`document.documentElement.scrollWidth > window.innerWidth + 1`)
}

// signIn opens the console at url and signs in with the admin token.
func signIn(tb *tab, url string) {
	tb.b.t.Helper()
	tb.open(url + "/console/")
	tb.waitText("main h1", "Sign in")
	tb.fill(`input[name=token]`, heraldtest.Token)
	tb.click(`form button[type=submit]`)
	tb.waitText("main h1", "Apps")
}

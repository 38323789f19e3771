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
	"io/fs"
	"mime"
	"net/http"
	"path"
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
}

// New loads the embedded assets.
func New() *Handler {
	h := &Handler{files: map[string]asset{}}
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
	// The portal is made to sit in an iframe of the product's pages; the
	// console, which holds an operator's key, is never framed.
	frame := "'none'"
	if strings.HasPrefix(p, "/portal/") {
		frame = "*"
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

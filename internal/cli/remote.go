package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
)

// Dial returns a client of the server r names, with r's token, or else
// the admin token herald serve keeps in its data dir: on a developer's
// machine, the server started from the same directory.
func Dial(r config.Remote) (*client.Herald, error) {
	token := strings.TrimSpace(r.Token)
	if token == "" {
		dir := r.DataDir
		if dir == "" {
			dir = os.Getenv("HERALD_DATA_DIR")
		}
		if dir == "" {
			dir = "./herald-data"
		}
		path := filepath.Join(dir, app.AdminTokenFile)
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("no token: pass --token (or HERALD_TOKEN), or run where herald serve keeps its data dir (%s has no %s)", dir, app.AdminTokenFile)
		case err != nil:
			return nil, fmt.Errorf("read the admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(r.Server, token)
}

// DataDirFlag is --data-dir of the commands that talk to a server (on a
// command, or on the group of apps, event-types and endpoints): the data
// dir of the server started on this machine, whose admin token file
// gives the token when --token is not set. cmd/herald copies it into
// config.Remote.
type DataDirFlag struct {
	DataDir string `name:"data-dir" env:"HERALD_DATA_DIR" default:"./herald-data" help:"Data dir of the server on this machine: its admin-token file gives the token when --token is not set."`
}

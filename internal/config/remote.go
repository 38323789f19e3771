package config

// Remote names the server that the commands talking to one (listen,
// trigger, tail, apps, ...) call, and the token they call it with. Its
// flags belong to the herald command itself, so they are accepted before
// or after the command's name.
type Remote struct {
	Server string `name:"server" env:"HERALD_SERVER" default:"http://127.0.0.1:8080" help:"Base URL of the Herald server, for the commands that talk to one."`
	Token  string `name:"token" env:"HERALD_TOKEN" help:"API token of those commands. Default: the admin token file that herald serve keeps in its data dir (--data-dir of the command, $HERALD_DATA_DIR, else ./herald-data)."`
	// DataDir is the command's --data-dir: where the admin token file is
	// read from when Token is empty. Not a flag of the herald command
	// itself, since serve has its own.
	DataDir string `kong:"-"`
}

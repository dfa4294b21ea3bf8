package process

import (
	"encoding/json"
	"os"

	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// Name returns the plugin's name from its manifest.
func Name() string { return os.Getenv(pb.EnvName) }

// Config decodes the manifest's config into v. It leaves v as it is when
// the manifest has none.
func Config(v any) error {
	raw := os.Getenv(pb.EnvConfig)
	if raw == "" || raw == "null" {
		return nil
	}
	return json.Unmarshal([]byte(raw), v)
}

package hubdv1

// The go-plugin handshake shared by hubd and its process plugins. A plugin
// built for another ProtocolVersion is refused when it starts.
const (
	// MagicCookieKey and MagicCookieValue are the environment variable
	// hubd sets for the plugin; a plugin started by hand sees it missing
	// and says it is meant to be run by hubd.
	MagicCookieKey   = "HUBD_PLUGIN"
	MagicCookieValue = "7f3c2a1e-hubd-process-plugin"
	// ProtocolVersion is go-plugin's app protocol version: the ABI major
	// version, the "v" of the envelope.
	ProtocolVersion = 1
	// PluginName is the name the service is dispensed under.
	PluginName = "hubd"
	// ABIVersion is the envelope and decision schema version a plugin
	// reports in Description.abi_version.
	ABIVersion = 1
)

// Environment variables hubd sets for a process plugin besides the cookie.
const (
	// EnvName holds the plugin's name from its manifest.
	EnvName = "HUBD_PLUGIN_NAME"
	// EnvConfig holds the manifest's config, as JSON.
	EnvConfig = "HUBD_PLUGIN_CONFIG"
)

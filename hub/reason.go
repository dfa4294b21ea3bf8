package hub

// DisconnectReason says why a socket disconnected. The values are the
// reference server's.
type DisconnectReason string

// The disconnect reasons.
const (
	ReasonTransportError            DisconnectReason = "transport error"
	ReasonTransportClose            DisconnectReason = "transport close"
	ReasonForcedClose               DisconnectReason = "forced close"
	ReasonPingTimeout               DisconnectReason = "ping timeout"
	ReasonParseError                DisconnectReason = "parse error"
	ReasonServerShuttingDown        DisconnectReason = "server shutting down"
	ReasonForcedServerClose         DisconnectReason = "forced server close"
	ReasonClientNamespaceDisconnect DisconnectReason = "client namespace disconnect"
	ReasonServerNamespaceDisconnect DisconnectReason = "server namespace disconnect"
)

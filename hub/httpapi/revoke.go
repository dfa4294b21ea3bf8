package httpapi

import (
	"encoding/json"
	"net/http"
)

// revoke hands a revocation to Config.Revoke and answers its result.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Revoke == nil {
		writeError(w, http.StatusNotFound, "revocations are not served here: the server gives the API no revocation provider (Config.Revoke)")
		return
	}
	var req json.RawMessage
	if !h.decode(w, r, &req) {
		return
	}
	res, err := h.cfg.Revoke(r.Context(), req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK         bool `json:"ok"`
		Revocation any  `json:"revocation"`
	}{true, res})
}

package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// shadows answers the shadow plugins Config.Shadows gives.
func (h *Handler) shadows(w http.ResponseWriter, _ *http.Request) {
	if h.cfg.Shadows == nil {
		writeError(w, http.StatusNotFound, "shadow plugins are not served here: the server gives the API no shadow provider (Config.Shadows)")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK      bool `json:"ok"`
		Shadows any  `json:"shadows"`
	}{true, h.cfg.Shadows()})
}

// shadowDivergences answers the divergences Config.ShadowDivergences
// gives for the query's shadow and limit.
func (h *Handler) shadowDivergences(w http.ResponseWriter, r *http.Request) {
	if h.cfg.ShadowDivergences == nil {
		writeError(w, http.StatusNotFound, "shadow divergences are not served here: the server gives the API no provider (Config.ShadowDivergences)")
		return
	}
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: give a number of divergences, 0 or more (0 for all kept)", s))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, struct {
		OK          bool `json:"ok"`
		Divergences any  `json:"divergences"`
	}{true, h.cfg.ShadowDivergences(q.Get("shadow"), limit)})
}

// promotedShadow reports the name in a path shadows/{name}/promote.
func promotedShadow(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "shadows/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/promote")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// promote makes shadow plugin name live through Config.PromoteShadow.
func (h *Handler) promote(w http.ResponseWriter, name string) {
	if h.cfg.PromoteShadow == nil {
		writeError(w, http.StatusNotFound, "shadow plugins are not served here: the server gives the API no promotion provider (Config.PromoteShadow)")
		return
	}
	if err := h.cfg.PromoteShadow(name); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK       bool   `json:"ok"`
		Promoted string `json:"promoted"`
	}{true, name})
}

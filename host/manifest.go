package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// Manifest describes a plugin: what runs it, what it handles and within
// which limits. In a plugin directory it is the plugin.json of a folder; a
// single .js or .wasm file gets the defaults below.
type Manifest struct {
	// Name identifies the plugin (default: the file or folder name).
	Name string `json:"name"`
	// Runtime is "js", "wasm" or "process" (default: from the entry's
	// extension, "process" for an executable).
	Runtime string `json:"runtime"`
	// Entry is the file to run, relative to the plugin's folder.
	Entry string `json:"entry"`
	// Hooks the plugin handles (default: the hooks its code registers, for
	// runtimes that can tell, else all).
	Hooks []Hook `json:"hooks"`
	// Namespaces the plugin applies to, as globs (default: all).
	Namespaces []string `json:"namespaces"`
	// Events the event hook applies to, as globs (default: all).
	Events []string `json:"events"`
	// Priority orders the chain: lower runs first (default 0); ties go by
	// name.
	Priority int `json:"priority"`
	// Timeout bounds one call, e.g. "50ms" (default 50ms; process plugins
	// 200ms).
	Timeout Duration `json:"timeout"`
	// OnError is the failure policy when the plugin throws, traps, times
	// out, returns garbage or is unavailable: "deny" or "allow". The
	// default is "deny" for connect and join, "allow" for the other hooks.
	OnError string `json:"on_error"`
	// MaxMemoryPages caps a Wasm instance's memory in 64 KiB pages
	// (default 512).
	MaxMemoryPages uint32 `json:"max_memory_pages"`
	// MaxMemoryMiB caps what one call of a JavaScript plugin may allocate,
	// and the largest string, array or buffer a built-in may make for it,
	// in MiB (default 64).
	MaxMemoryMiB int `json:"max_memory_mib"`
	// PoolSize is the number of instances or runtimes kept (default: the
	// number of CPUs, at most 8).
	PoolSize int `json:"pool_size"`
	// Config is handed to the plugin as it is.
	Config json.RawMessage `json:"config"`
	// Capabilities lists granted host capabilities (e.g. "log", "clock").
	Capabilities []string `json:"capabilities"`
	// Shadow, when set, names the live plugin this one shadows: it is
	// called on the envelopes that plugin sees, after the live decision is
	// taken, and its decisions are compared and recorded, never enforced
	// (see Host.ShadowStats). Without it the plugin is live.
	Shadow string `json:"shadow,omitempty"`
	// ShadowSample is the share of the live plugin's calls a shadow is
	// given, from 0 (exclusive) to 1 (default 1: every call), to bound
	// what a costly shadow takes.
	ShadowSample float64 `json:"shadow_sample,omitempty"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// UnmarshalJSON reads "50ms" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return errors.New("a duration is a string such as \"50ms\" or a number of milliseconds")
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Default limits.
const (
	DefaultTimeout        = 50 * time.Millisecond
	DefaultProcessTimeout = 200 * time.Millisecond
	DefaultMemoryPages    = 512
)

// Validate fills defaults and reports every problem at once.
func (m *Manifest) Validate() error {
	var errs []error
	if m.Name == "" {
		errs = append(errs, errors.New("name is missing"))
	}
	if m.Runtime == "" {
		errs = append(errs, errors.New("runtime is missing (js, wasm or process)"))
	}
	for _, h := range m.Hooks {
		if !validHook(h) {
			errs = append(errs, fmt.Errorf("unknown hook %q (connect, join, leave, event or disconnect)", h))
		}
	}
	for _, g := range append(append([]string(nil), m.Namespaces...), m.Events...) {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("bad glob %q: %v", g, err))
		}
	}
	switch m.OnError {
	case "", "deny", "allow":
	default:
		errs = append(errs, fmt.Errorf("on_error is %q: use \"deny\" or \"allow\"", m.OnError))
	}
	if m.Shadow != "" && m.Shadow == m.Name {
		errs = append(errs, fmt.Errorf("shadow is %q, the plugin itself: name the live plugin it shadows", m.Shadow))
	}
	switch {
	case math.IsNaN(m.ShadowSample) || m.ShadowSample < 0 || m.ShadowSample > 1:
		errs = append(errs, fmt.Errorf("shadow_sample is %v: give the share of calls to shadow, above 0 and at most 1", m.ShadowSample))
	case m.ShadowSample != 0 && m.Shadow == "":
		errs = append(errs, errors.New("shadow_sample is set without shadow: name the live plugin to shadow, or leave shadow_sample out"))
	}
	if m.Timeout < 0 {
		errs = append(errs, errors.New("timeout is negative"))
	}
	if m.Timeout == 0 {
		m.Timeout = Duration(DefaultTimeout)
		if m.Runtime == "process" {
			m.Timeout = Duration(DefaultProcessTimeout)
		}
	}
	if m.MaxMemoryMiB < 0 || m.MaxMemoryMiB > 1<<20 {
		errs = append(errs, fmt.Errorf("max_memory_mib is %d: use 1 to %d, or leave it out for the default", m.MaxMemoryMiB, 1<<20))
	}
	if m.MaxMemoryPages == 0 {
		m.MaxMemoryPages = DefaultMemoryPages
	}
	return errors.Join(errs...)
}

// handles reports whether the manifest subscribes to hook in namespace for
// event (event is empty outside the event hook).
func (m *Manifest) handles(hook Hook, ns, event string) bool {
	found := false
	for _, h := range m.Hooks {
		if h == hook {
			found = true
			break
		}
	}
	if !found || !matchAny(m.Namespaces, ns) {
		return false
	}
	return hook != HookEvent || matchAny(m.Events, event)
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
		// "*" in a namespace glob should match "/chat" too.
		if g == "*" || (strings.HasSuffix(g, "/*") && strings.HasPrefix(s, strings.TrimSuffix(g, "*"))) {
			return true
		}
	}
	return false
}

// failClosed reports whether a failure of this plugin on hook denies.
func (m *Manifest) failClosed(hook Hook) bool {
	switch m.OnError {
	case "deny":
		return hook != HookLeave && hook != HookDisconnect
	case "allow":
		return false
	}
	return hook == HookConnect || hook == HookJoin
}

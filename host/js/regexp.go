package js

import (
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// Regular expressions.
//
// goja runs a pattern that Go's regexp (RE2, linear in time) cannot, one
// with lookaround or a backreference, with dlclark/regexp2, which
// backtracks: /^(?=a)(a+)+$/ on 26 characters of client input ran for
// 5.75 s inside one call of test, out of the watchdog's reach. regexp2 can
// give up a match after a time, which is read from a process-wide default
// when a pattern is compiled; goja then takes the abandoned match for "no
// match", which a filter would read as "clean". So:
//
//   - every backtracking match is abandoned after regexpMatchLimit (set
//     when this package is initialised, for every regexp2 pattern the
//     process compiles afterwards);
//   - in a plugin whose time limit is at most half of that, an abandoned
//     match has run past the call's deadline, and a call that ends past
//     its deadline is a timeout: the wrong "no match" never becomes a
//     decision;
//   - in a plugin with a longer time limit (the default 50 ms is),
//     RegExp.prototype.exec and test are wrapped: a match that found
//     nothing after half the limit or more throws a RangeError, and a
//     call that fails after such a match is a timeout (the regular
//     expression ran out of its time), so that it counts against its
//     socket as a timeout does. goja's fast paths skip a wrapped exec, so
//     such a plugin's regular expressions run several times slower.
//
// The limit is short because a given-up match costs its whole time in CPU:
// the load run of hostile clients (bench/attack) had 8 sockets whose
// messages make a filter backtrack push the legitimate clients' ack p99 to
// four times the attack-free run when the limit was 100 ms.
//
// Half, because regexp2 reads a clock that a goroutine updates every
// regexpClockPeriod: a match can be given up early by as much as that
// goroutine is late, which a loaded machine makes tens of milliseconds.
// regexp2 also gives up, as silently, a match whose backtracking stack
// outgrows its MaxBacktrackingStackSize (100,000 entries).

// regexpMatchLimit is how long a backtracking match may run.
const regexpMatchLimit = 20 * time.Millisecond

// regexpClockPeriod is how often regexp2's clock is read.
const regexpClockPeriod = 5 * time.Millisecond

func init() {
	regexp2.DefaultMatchTimeout = regexpMatchLimit
	regexp2.SetTimeoutCheckPeriod(regexpClockPeriod)
}

// needsExecCheck reports whether a plugin with this call time limit needs
// its exec wrapped: whether its calls can outlast an abandoned match.
func needsExecCheck(timeout time.Duration) bool { return timeout > regexpMatchLimit/2 }

// installExecCheck wraps RegExp.prototype.exec and test (which goja runs
// without exec) so that a match given up for its time throws instead of
// finding nothing. The other methods, and String.prototype's, go through
// exec once it is not goja's own.
func (in *instance) installExecCheck() error {
	rt := in.rt
	proto := rt.Get("RegExp").ToObject(rt).Get("prototype").ToObject(rt)
	for _, name := range []string{"exec", "test"} {
		orig, ok := goja.AssertFunction(proto.Get(name))
		if !ok {
			continue
		}
		err := in.replace(proto, name, rt.ToValue(1), func(call goja.FunctionCall) goja.Value {
			s := in.jsString(call.Argument(0))
			start := time.Now()
			ret, err := orig(call.This, s)
			if err != nil {
				panic(err)
			}
			if (goja.IsNull(ret) || ret == in.falseValue) && time.Since(start) >= regexpMatchLimit/2 {
				in.throwRegexp(time.Since(start))
			}
			return ret
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// throwRegexp throws the RangeError of a match given up after took.
func (in *instance) throwRegexp(took time.Duration) {
	in.regexpGaveUp = true
	msg := "a regular expression ran for " + took.Round(time.Millisecond).String() +
		" without a match and was stopped (backtracking is limited to " + regexpMatchLimit.String() +
		" a match): simplify the pattern, or bound the input's length"
	if in.rangeError != nil {
		if obj, err := in.rangeError(nil, in.rt.ToValue(msg)); err == nil {
			panic(obj)
		}
	}
	panic(in.rt.NewTypeError(msg))
}

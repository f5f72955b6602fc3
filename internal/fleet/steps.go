package fleet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Step is one resource an operation changes, as its engine events describe it.
type Step struct {
	Op   string // create, update, replace, delete or import
	Type string // e.g. kubernetes:apps/v1:Deployment
	Name string // the resource's name in the program (the last part of its URN)
	// Properties are the changed property paths, each marked with its kind when it is not a plain update:
	// "spec.replicas", "data.NEW (added)", "spec.selector (replaces)". Never values: they may be secrets.
	Properties []string
	Failed     bool // the step ran and failed (an up)
}

// stepOps are the operations a summary lists: the others change nothing (same, read, refresh, discard) or are
// the halves of a replace, which is listed once as its replace step.
var stepOps = []string{"create", "update", "replace", "delete", "import"}

// StepRecorder collects an operation's resource steps from its engine events: pass Events() as the
// operation's EventStreams, then read Steps() once the operation has returned.
type StepRecorder struct {
	events chan events.EngineEvent
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	steps  []Step
	byURN  map[string]int
}

// NewStepRecorder starts reading the events it will be given.
func NewStepRecorder() *StepRecorder {
	r := &StepRecorder{events: make(chan events.EngineEvent), stop: make(chan struct{}), done: make(chan struct{}),
		byURN: map[string]int{}}
	go r.read()
	return r
}

// Events is the channel to pass as optpreview.EventStreams or optup.EventStreams.
func (r *StepRecorder) Events() chan<- events.EngineEvent { return r.events }

// read records every event until the stream closes or Steps stops it. The Automation API closes the stream
// only when the CLI had opened it, so a run that failed before (a stack that cannot be selected) never closes
// it; when the operation returns, every event it sent has been received (the sends are unbuffered and it
// waits for its event server to stop), so stopping then loses none.
func (r *StepRecorder) read() {
	defer close(r.done)
	for {
		select {
		case ev, open := <-r.events:
			if !open {
				return
			}
			r.record(ev)
		case <-r.stop:
			// Should a later SDK send after returning, it must not block the runner on this channel.
			go func() {
				for range r.events {
				}
			}()
			return
		}
	}
}

func (r *StepRecorder) record(ev events.EngineEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case ev.ResourcePreEvent != nil:
		m := ev.ResourcePreEvent.Metadata
		if !slices.Contains(stepOps, string(m.Op)) {
			return
		}
		step := Step{Op: string(m.Op), Type: m.Type, Name: urnName(m.URN), Properties: changedProperties(m)}
		if i, seen := r.byURN[m.URN]; seen {
			r.steps[i] = step
			return
		}
		r.byURN[m.URN] = len(r.steps)
		r.steps = append(r.steps, step)
	case ev.ResOpFailedEvent != nil:
		if i, seen := r.byURN[ev.ResOpFailedEvent.Metadata.URN]; seen {
			r.steps[i].Failed = true
		}
	}
}

// Steps stops the recorder and returns its steps ordered by operation, type and name (the engine runs
// steps in parallel, so their event order changes from run to run).
func (r *StepRecorder) Steps() []Step {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	steps := slices.Clone(r.steps)
	slices.SortStableFunc(steps, func(a, b Step) int {
		return cmp.Or(cmp.Compare(slices.Index(stepOps, a.Op), slices.Index(stepOps, b.Op)),
			cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	})
	return steps
}

// urnName is the resource name a URN ends with (urn:pulumi:stack::project::type::name).
func urnName(urn string) string {
	parts := strings.Split(urn, "::")
	return parts[len(parts)-1]
}

// changedProperties reads a step's changed property paths from its detailed diff, or from its top-level
// changed keys when the provider gave none.
func changedProperties(m apitype.StepEventMetadata) []string {
	var props []string
	for path, diff := range m.DetailedDiff {
		props = append(props, path+diffNote(diff.Kind))
	}
	if len(m.DetailedDiff) == 0 {
		for _, key := range m.Diffs {
			note := ""
			if slices.Contains(m.Keys, key) {
				note = " (replaces)"
			}
			props = append(props, key+note)
		}
	}
	slices.Sort(props)
	return slices.Compact(props)
}

func diffNote(kind apitype.DiffKind) string {
	switch kind {
	case apitype.DiffUpdate:
		return ""
	case apitype.DiffAdd:
		return " (added)"
	case apitype.DiffDelete:
		return " (removed)"
	case apitype.DiffUpdateReplace:
		return " (replaces)"
	case apitype.DiffAddReplace:
		return " (added, replaces)"
	case apitype.DiffDeleteReplace:
		return " (removed, replaces)"
	}
	return fmt.Sprintf(" (%s)", kind)
}

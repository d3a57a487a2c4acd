package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change is one field that differs between two versions of a plan.
type Change struct {
	// Path is the field's path in the plan file ("schedule.every").
	Path string `json:"path"`
	// Old and New are the field's values, as JSON; "" when absent.
	Old string `json:"old"`
	New string `json:"new"`
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s -> %s", c.Path, orNone(c.Old), orNone(c.New))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Diff lists the fields in which new differs from old, both with their
// defaults applied, sorted by path. An empty list means applying new
// changes nothing.
func Diff(old, new Plan) []Change {
	var changes []Change
	diffValue("", tree(old), tree(new), &changes)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// tree is p with its defaults applied, as a JSON value: the form in which
// it travels to the workflow. p itself is left as it is.
func tree(p Plan) any {
	// A Plan holds only strings, numbers, slices, maps and structs, so
	// neither step can fail.
	b, _ := json.Marshal(p)
	var q Plan
	_ = json.Unmarshal(b, &q)
	q.SetDefaults()
	b, _ = json.Marshal(q)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

func diffValue(path string, a, b any, out *[]Change) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValue(p, am[k], bm[k], out)
		}
		return
	}
	as, bs := jsonText(a), jsonText(b)
	if as != bs {
		*out = append(*out, Change{Path: path, Old: as, New: bs})
	}
}

// jsonText shows a value compactly: strings without quotes, absent or
// empty values as "".
func jsonText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any:
		if len(v) == 0 {
			return ""
		}
	case []any:
		if len(v) == 0 {
			return ""
		}
	}
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}

// CheckReplace says why new cannot replace the running old plan in place,
// naming the field under prefix ("plans[1]"): a plan keeps its ID and its
// kind for life.
func CheckReplace(prefix string, old, new Plan) error {
	if new.ID != old.ID {
		return FieldError{prefix + ".id", fmt.Sprintf("%q cannot become %q; apply a new plan instead", old.ID, new.ID)}
	}
	if new.Kind != old.Kind {
		return FieldError{prefix + ".kind", fmt.Sprintf("%q cannot become %q; remove the plan (steward plan rm %s) and apply it again", old.Kind, new.Kind, old.ID)}
	}
	return nil
}

package capability

import (
	"strings"
	"testing"
)

func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		add, drop  string
		privileged bool
		want       string // "" = error; "*" = every capability; "*-X" = all but X
	}{
		{"", "", false, strings.Join(Default, ",")},
		{"sys_admin", "", false, strings.Join(Default, ",") + ",CAP_SYS_ADMIN"},
		{"", "chown,CAP_KILL", false, strings.Join(Default[1:12], ",") + ",CAP_AUDIT_WRITE"},
		{"chown", "ALL", false, "CAP_CHOWN"},
		{"", "all", false, ""},
		{"ALL", "", false, "*"},
		{"all", "sys_admin", false, "*-CAP_SYS_ADMIN"},
		{"", "", true, "*"},
		{"nope", "", false, "error"},
		{"", "cap_nope", false, "error"},
	} {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		got, err := Effective(split(tc.add), split(tc.drop), tc.privileged)
		want := tc.want
		switch {
		case want == "*":
			want = strings.Join(names, ",")
		case strings.HasPrefix(want, "*-"):
			want = strings.Replace(strings.Join(names, ","), ","+want[2:], "", 1)
		}
		if tc.want == "error" {
			if err == nil {
				t.Errorf("add %q drop %q: %v, want an error", tc.add, tc.drop, got)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("add %q drop %q privileged %v: %v %v\nwant %s", tc.add, tc.drop, tc.privileged, got, err, want)
		}
	}
}

package topic

import "regexp"

// TemplateRegexp returns a template selector's regular expression, for
// tests that check what the selector's shortcuts rule out.
func TemplateRegexp(s *Selector) *regexp.Regexp { return s.re }

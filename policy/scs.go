package policy

// SCS is what the proxy knows of a session's standard_conforming_strings,
// which decides whether backslashes in ordinary string literals are
// escapes and so where literals end.
type SCS uint8

const (
	// SCSUnknown: statements still in flight may have changed the setting.
	// Texts are analysed under both settings and denied unless both parse
	// and every decision allows. It is the zero value.
	SCSUnknown SCS = iota
	// SCSOn: standard_conforming_strings is on (the server default).
	SCSOn
	// SCSOff: standard_conforming_strings is off.
	SCSOff
)

// String returns "on", "off" or "unknown".
func (s SCS) String() string {
	switch s {
	case SCSOn:
		return "on"
	case SCSOff:
		return "off"
	default:
		return "unknown"
	}
}

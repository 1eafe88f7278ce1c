package redirect

// Log keys used by this package.
const (
	logKeyMap       = "map"
	logKeyLink      = "link"
	logKeyCgroup    = "cgroup"
	logKeyPinDir    = "pin_dir"
	logKeyEndpoint  = "endpoint"
	logKeyError     = "err"
	logKeyGuardMode = "guard_mode"
)

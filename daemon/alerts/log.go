package alerts

// Log keys used by this package.
const (
	logKeySeq    = "seq"
	logKeyKind   = "kind"
	logKeyAction = "action"
	logKeyCount  = "count"
	logKeyPID    = "pid"
	logKeyUID    = "uid"
	logKeyComm   = "comm"
	logKeyExe    = "exe"
	logKeyCgroup = "cgroup"
	logKeySrc    = "source"
	logKeyDst    = "destination"
	logKeyIface  = "interface"
	logKeyURL    = "url"
	logKeyError  = "err"
)

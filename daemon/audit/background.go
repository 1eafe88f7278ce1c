package audit

import "time"

// run flushes deferred records, writes periodic checkpoints and hands
// new pages of the file to the disk.
func (l *Log) run() {
	defer l.wg.Done()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	var cpC <-chan time.Time
	if l.cfg.SigningKey != nil {
		t := time.NewTicker(l.cfg.CheckpointInterval)
		defer t.Stop()
		cpC = t.C
	}
	var wbC <-chan time.Time
	wb := newWriteback()
	defer wb.close()
	if !l.cfg.Fsync {
		t := time.NewTicker(l.cfg.WritebackInterval)
		defer t.Stop()
		wbC = t.C
	}
	for {
		select {
		case <-l.done:
			flush.Stop()
			return
		case <-wbC:
			l.runWriteback(wb)
		case <-l.kick:
			if !l.armed.Load() {
				flush.Reset(l.cfg.FlushDelay)
				l.armed.Store(true)
			}
		case <-flush.C:
			l.armed.Store(false)
			l.mu.Lock()
			err := l.commitLocked(nil)
			retry := len(l.pending) > 0
			l.mu.Unlock()
			if err != nil || retry {
				flush.Reset(l.cfg.FlushDelay)
				l.armed.Store(true)
			}
		case <-cpC:
			l.mu.Lock()
			err := l.checkpointLocked(false)
			l.mu.Unlock()
			if err != nil {
				l.log.Error("audit checkpoint", "error", err)
			}
		}
	}
}

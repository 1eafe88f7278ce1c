package redirect

import (
	"context"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// protectedAddrs are the address prefixes of the endpoint set, without
// ports: the guard matches by address alone when an IPv6 header chain hides
// the port.
func protectedAddrs(eps map[redirectIlEpKey]redirectIlTarget) map[redirectIlAddrKey]struct{} {
	out := make(map[redirectIlAddrKey]struct{}, len(eps))
	for k := range eps {
		out[redirectIlAddrKey{Prefixlen: k.Prefixlen - 32, Addr: k.Addr}] = struct{}{}
	}
	return out
}

// addProtectedAddrs writes addrs into il_prot_addrs. The caller holds r.mu.
func (r *Redirector) addProtectedAddrs(ctx context.Context, addrs map[redirectIlAddrKey]struct{}) error {
	one := uint32(1)
	for k := range addrs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.objs.IlProtAddrs.Update(&k, &one, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("set protected address: %w", err)
		}
	}
	return nil
}

// removeStaleAddrs deletes entries of il_prot_addrs not in keep. The caller
// holds r.mu.
func (r *Redirector) removeStaleAddrs(keep map[redirectIlAddrKey]struct{}) error {
	var (
		k     redirectIlAddrKey
		v     uint32
		stale []redirectIlAddrKey
	)
	it := r.objs.IlProtAddrs.Iterate()
	for it.Next(&k, &v) {
		if _, ok := keep[k]; !ok {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read protected addresses: %w", err)
	}
	for i := range stale {
		if err := r.objs.IlProtAddrs.Delete(&stale[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("remove protected address: %w", err)
		}
	}
	return nil
}

package redirect

// The eBPF objects and their Go bindings (redirect_bpfel.{go,o} from
// ../bpf/redirect.c, guard_bpfel.{go,o} from ../bpf/guard.c) are generated
// and committed, so building needs no clang. Regenerate with
// `go generate ./redirect/...` (clang-14, llvm-strip-14, libbpf-dev).
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type il_ep_key -type il_target -type il_origin -type il_tuple -type il_config -type il_record -type il_event -type il_rl_key -type il_stats -type il_addr_key redirect ../bpf/redirect.c -- -O2 -g -Wall -Werror -I../bpf
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type il_unix_key guard ../bpf/guard.c -- -O2 -g -Wall -Werror -I../bpf

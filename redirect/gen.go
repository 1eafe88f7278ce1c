package redirect

// The eBPF object and its Go bindings (redirect_bpfel.go, redirect_bpfel.o)
// are generated from ../bpf/redirect.c and committed, so building needs no
// clang. Regenerate with `go generate ./redirect/...` (clang-14, llvm-strip-14).
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type il_ep_key -type il_target -type il_origin -type il_tuple redirect ../bpf/redirect.c -- -O2 -g -Wall -Werror -I../bpf

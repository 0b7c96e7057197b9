// Builds the BPF scheduler (src/bpf/main.bpf.c, which includes the other
// src/bpf/*.bpf.c parts) into a libbpf-rs skeleton, and src/bpf/intf.h into
// Rust bindings.
fn main() {
    println!("cargo:rerun-if-changed=src/bpf");
    scx_cargo::BpfBuilder::new()
        .unwrap()
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
        .unwrap();
}

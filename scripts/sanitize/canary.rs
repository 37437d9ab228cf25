//! A program with one known leak, built by scripts/sanitize.sh with the same
//! sanitizer flags as the tests: if LeakSanitizer does not report it in the
//! log folder, the sanitizer set-up is broken and a clean run would mean
//! nothing.

fn main() {
    let v: Vec<u8> = vec![0x5a; 4096];
    // The pointer is dropped on purpose: nothing refers to the buffer at exit.
    let p = Box::into_raw(v.into_boxed_slice());
    std::hint::black_box(p);
}

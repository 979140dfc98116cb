//! What must not compile, checked with trybuild.

#[test]
#[cfg_attr(miri, ignore = "trybuild runs the compiler")]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // The compiler's list of other `Shareable` types in these errors names the atomics, which
    // are `portable-atomic`'s with that feature on: the expected text is the native one.
    if !cfg!(feature = "portable-atomic") {
        t.compile_fail("tests/ui/native-atomics/*.rs");
    }
}

//! What must not compile, checked with trybuild.

#[test]
#[cfg_attr(miri, ignore = "trybuild runs the compiler")]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

// `IrqLock`'s guard form is `unsafe`: its caller promises last-in-first-out release.
use baresync::IrqSpinLock;

static L: IrqSpinLock<u32> = IrqSpinLock::new(0);

fn main() {
    let guard = L.lock_guard();
    critical_section::with(|_| drop(guard));
}

// The closure of `IrqLock::lock` cannot smuggle the `&mut T` out of the critical section.
use baresync::IrqSpinLock;

static L: IrqSpinLock<u32> = IrqSpinLock::new(0);

fn main() {
    let leaked: &mut u32 = L.lock(|value| value);
    *leaked += 1;
}

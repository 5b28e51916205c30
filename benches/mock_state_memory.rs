//! Memory the mock keeps per accepted affiliation, measured with a counting
//! allocator: net bytes still allocated after N valid affiliations went through
//! the router, divided by N. Target: at most 256 bytes. Then the same with a
//! retention cap, to show that the cap bounds what a long soak keeps.
//!
//! Run with `cargo bench --bench mock_state_memory`; exits non-zero past the target.
#![allow(unsafe_code)] // a counting GlobalAlloc is unsafe by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

mod in_process;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only counts
// the sizes it was asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TARGET_BYTES: f64 = 256.0;

fn measure(max_records: usize, checkpoints: &[u64]) -> Vec<(u64, f64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mock, password) = in_process::mock(|config| config.max_records = max_records);
    let app = mock.app();
    let mut generator = in_process::generator(&mock, 2);
    rt.block_on(async {
        let auth = in_process::bearer(&app, &password).await;
        // Warm up lazily initialised tables before the baseline.
        let _ = generator.next_affiliation();
        let baseline = LIVE.load(Ordering::Relaxed);
        let mut out = Vec::new();
        let mut sent = 0u64;
        for &checkpoint in checkpoints {
            while sent < checkpoint {
                let body = serde_json::to_vec(&generator.next_affiliation().expect("record"))
                    .expect("json");
                in_process::post_affiliation(&app, &auth, body).await;
                sent += 1;
            }
            let live = LIVE.load(Ordering::Relaxed) - baseline;
            out.push((sent, live as f64 / sent as f64));
        }
        out
    })
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too. Ignore args.
    let checkpoints = [50_000, 100_000, 200_000, 400_000];
    let mut worst: f64 = 0.0;
    println!("mock_state_memory: net heap bytes per accepted affiliation (no cap)");
    for (n, per) in measure(1_000_000, &checkpoints) {
        println!("  {n:>7} affiliations: {per:>6.1} B/affiliation");
        worst = worst.max(per);
    }
    println!("mock_state_memory: with max_records = 100000 (fingerprints kept)");
    for (n, per) in measure(100_000, &checkpoints) {
        println!(
            "  {n:>7} affiliations: {per:>6.1} B/affiliation ({:.1} MB total)",
            per * n as f64 / 1e6
        );
    }
    println!("worst without cap: {worst:.1} B/affiliation (target <= {TARGET_BYTES})");
    if worst > TARGET_BYTES {
        eprintln!("mock_state_memory: FAILED, {worst:.1} > {TARGET_BYTES} bytes per affiliation");
        std::process::exit(1);
    }
}

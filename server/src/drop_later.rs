//! Freeing big values off the calling thread: the closeSession of a session with 100k
//! ephemerals frees 100k paths and slots, which the pipeline thread (and every read queued
//! behind it) should not wait for.

/// Values of fewer parts than this are dropped in place (a thread costs more).
const BIG: usize = 4096;

/// Drop `value`, made of `parts` allocations, on a short-lived thread if it is big, else
/// here. If no thread can be started it is dropped here too.
pub fn drop_later<T: Send + 'static>(value: T, parts: usize) {
    if parts < BIG {
        drop(value);
        return;
    }
    // On failure the closure, and `value` with it, is dropped on this thread.
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}

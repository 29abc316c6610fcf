import Dispatch
import Foundation
import HoptraceCapture

/// What ends a live capture besides its packet count: SIGINT, SIGTERM and an optional duration, each handled on a
/// dispatch queue (not in signal context) by stopping the source. SIGPIPE is ignored, so that a closed pipe is a write
/// error, not a death. The triggers hold until ``cancel()``.
final class StopTriggers {
    private var signals: [any DispatchSourceSignal] = []
    private var timer: (any DispatchSourceTimer)?

    /// Stops `handle` on SIGINT, SIGTERM, and after `duration` when one is given.
    init(stopping handle: LiveSource.StopHandle, after duration: DurationArgument?) {
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handle.stop() }
            source.resume()
            signals.append(source)
        }
        if let duration {
            let t = DispatchSource.makeTimerSource(queue: .global())
            t.schedule(deadline: .now() + .nanoseconds(Int(clamping: duration.nanoseconds)))
            t.setEventHandler { handle.stop() }
            t.resume()
            timer = t
        }
    }

    /// Removes the triggers.
    func cancel() {
        timer?.cancel()
        for source in signals { source.cancel() }
    }
}

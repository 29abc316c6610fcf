import Dispatch
import Foundation
import HoptraceCapture

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM, caught for the rest of the process from ``install()`` on, which each live command calls before
/// it opens an interface.
///
/// The handler writes the signal's number to a pipe and does nothing else (`write(2)` is async-signal-safe);
/// ``StopTriggers`` reads the pipe on a dispatch queue. A signal that arrives while the capture is still being set up
/// (the interfaces opened, the user changed by `-Z`, the cluster state read) waits in the pipe and stops the capture
/// the moment the triggers start, which then ends as after any stop: the file finished, the statistics printed.
///
/// Ignoring the signals and handing them to dispatch signal sources, as before, lost every signal sent between the
/// two: a supervisor's SIGTERM right after the process changed user was ignored until `--duration` ran out, or, a
/// moment earlier, killed it without its statistics (13 and 5 of 20 tries).
enum StopSignals {
    /// Catches SIGINT and SIGTERM (once; later calls do nothing) and ignores SIGPIPE, so that a closed pipe is a
    /// write error, not a death.
    static func install() throws(CLIFailure) {
        guard stopSignalPipe.read < 0 else { return }
        do {
            stopSignalPipe = try makeWakeupPipe()
        } catch {
            throw CLIFailure("stop signals: \(error.reason)")
        }
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = onStopSignal
        sigemptyset(&action.sa_mask)
        // Interrupted system calls resume where they can; the capture's poll(2) and every write loop also retry on
        // EINTR.
        action.sa_flags = SA_RESTART
        // A parent that blocked them (a test runner's thread, some supervisors) would leave them pending for ever:
        // unblock them on this thread, from which the capture's threads inherit the mask.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in [SIGINT, SIGTERM] {
            _ = sigaction(number, &action, nil)
            sigaddset(&unblock, number)
        }
        _ = pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// The pipe's read end (-1 before ``install()``).
    static var readEnd: Int32 { stopSignalPipe.read }
}

/// The stop signals' pipe, written by the handler. Set once, before the handler is installed, and never again.
nonisolated(unsafe) private var stopSignalPipe: (read: Int32, write: Int32) = (-1, -1)

/// The signal handler: one byte into the pipe, errno kept.
private func onStopSignal(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(stopSignalPipe.write, &byte, 1)
    errno = saved
}

/// What ends a live capture besides its packet count: SIGINT, SIGTERM (see ``StopSignals``) and an optional duration,
/// each handled on a dispatch queue (not in signal context) by stopping the source. The triggers hold until
/// ``cancel()``; a signal after that is caught and has no effect, so a second Ctrl-C does not cut short the final
/// flush.
final class StopTriggers {
    private var reader: (any DispatchSourceRead)?
    private var timer: (any DispatchSourceTimer)?

    /// Stops `handle` on SIGINT, SIGTERM (also one received since ``StopSignals/install()``), and after `duration`
    /// when one is given.
    init(stopping handle: LiveSource.StopHandle, after duration: DurationArgument?) throws(CLIFailure) {
        try StopSignals.install()
        let fd = StopSignals.readEnd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: .global())
        source.setEventHandler {
            var drained = [UInt8](repeating: 0, count: 64)
            while read(fd, &drained, drained.count) > 0 {}
            handle.stop()
        }
        source.resume()
        reader = source
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
        reader?.cancel()
    }
}

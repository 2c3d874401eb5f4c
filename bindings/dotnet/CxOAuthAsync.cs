// CxOAuth: the Task-based calls on top of the library's completion callbacks
// (oauth_get_token_async / oauth_request_async). No Task.Run, no blocked pool thread: a call is
// submitted and returns at once; the library calls back on its completion thread (cxoauth-cb),
// which completes a TaskCompletionSource (continuations run asynchronously, on the pool).
using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace CxOAuth
{
    /// <summary>The native callbacks. Static delegates, so the function pointers handed to the
    /// library stay valid for the life of the process (a delegate the GC collected would crash
    /// the completion thread).</summary>
    internal static class AsyncCalls
    {
        /// <summary>Called first by every native callback. On Mono only: a library thread
        /// (cxoauth-*) blocks every signal, but once it has run managed code Mono suspends it
        /// for each garbage collection with signals (SIGPWR, SIGXCPU, a real-time signal): with
        /// them blocked the next GC would wait for it forever. So, once per thread, those
        /// signals (and only those: process signals such as SIGINT/SIGTERM stay blocked) are
        /// unblocked on the library thread that calls us. Nothing to do on .NET (CoreCLR does
        /// not signal threads that are in native code).</summary>
        internal static void EnterFromNative()
        {
            if (!IsMono || entered) return;
            entered = true;
            HookMonoExit();
            try
            {
                var set = new byte[128]; // sigset_t (1024 bits)
                Add(set, 24); // SIGXCPU: Mono's restart signal
                Add(set, 30); // SIGPWR: Mono's suspend signal
                for (int sig = 34; sig <= 64; sig++) Add(set, sig); // SIGRTMIN..SIGRTMAX: its abort signal
                pthread_sigmask(1 /* SIG_UNBLOCK */, set, null);
            }
            catch (Exception) { } // no libc of that name: nothing we can do
        }

        /// <summary>Mono only. At exit Mono waits for every thread that ever ran managed code
        /// to end; the library's threads never do (the runtime's workers live as long as the
        /// process, the completion thread until it has been idle 10 s), so a Mono process that
        /// used async calls or the log handler would hang (or wait) at exit. When such a thread
        /// exists, the binding's ProcessExit handler (registered at the first callback: it runs
        /// after handlers registered before it, before handlers registered later) flushes the
        /// console and ends the process with Environment.ExitCode (libc _exit): finalizers
        /// and ProcessExit handlers registered after it do not run. CXOAUTH_MONO_EXIT=wait
        /// turns this off. Never on .NET (CoreCLR does not wait for such threads).</summary>
        static void HookMonoExit()
        {
            lock (ExitGate)
            {
                if (exitHooked) return;
                exitHooked = true;
            }
            if (Environment.GetEnvironmentVariable("CXOAUTH_MONO_EXIT") == "wait") return;
            AppDomain.CurrentDomain.ProcessExit += (s, e) =>
            {
                try
                {
                    try { Native.oauth_set_log_callback(0, null, IntPtr.Zero); } catch (Exception) { }
                    try { Console.Out.Flush(); Console.Error.Flush(); } catch (Exception) { }
                    _exit(Environment.ExitCode);
                }
                catch (Exception) { }
            };
        }

        static readonly object ExitGate = new object();
        static bool exitHooked;

        [DllImport("libc", CallingConvention = CallingConvention.Cdecl)]
        static extern void _exit(int status);

        static void Add(byte[] set, int sig) { set[(sig - 1) / 8] |= (byte)(1 << ((sig - 1) % 8)); }

        internal static readonly bool IsMono = Type.GetType("Mono.Runtime") != null;
        [ThreadStatic] static bool entered;

        [DllImport("libc", CallingConvention = CallingConvention.Cdecl)]
        static extern int pthread_sigmask(int how, byte[] set, byte[] oldset);

        internal static readonly Native.RequestDone RequestCallback = OnRequestDone;
        internal static readonly Native.TokenDone TokenCallback = OnTokenDone;

        /// <summary>Calls in flight (submitted, callback not yet run), all clients: for tests
        /// and diagnostics.</summary>
        internal static int Pending;

        static AsyncCall<T> Take<T>(IntPtr userdata)
        {
            var gch = GCHandle.FromIntPtr(userdata);
            var call = (AsyncCall<T>)gch.Target;
            gch.Free();
            return call;
        }

        // On the completion thread. Nothing may escape into native code.
        static void OnRequestDone(IntPtr userdata, uint rc, IntPtr response, IntPtr error)
        {
            EnterFromNative();
            Complete<OAuthResponse>(userdata, rc, response, error,
                                    p => new OAuthResponse(p), Native.oauth_response_free);
        }

        static void OnTokenDone(IntPtr userdata, uint rc, IntPtr token, ulong expiresUnixMs, IntPtr error)
        {
            EnterFromNative();
            Complete<OAuthToken>(userdata, rc, token, error,
                                 p => new OAuthToken(Native.FromUtf8(p), (long)expiresUnixMs),
                                 Native.oauth_string_free);
        }

        // Completes one call: `convert` reads the library's result into ours; the result is
        // freed here with `free` whatever happens. Nothing may escape into native code.
        static void Complete<T>(IntPtr userdata, uint rc, IntPtr ptr, IntPtr error,
                                Func<IntPtr, T> convert, Action<IntPtr> free) where T : class
        {
            try
            {
                AsyncCall<T> call = null;
                T result = null;
                Exception failure = null;
                try
                {
                    call = Take<T>(userdata);
                    if (rc == 0 && ptr != IntPtr.Zero)
                    {
                        result = convert(ptr);
                        if (error != IntPtr.Zero) Native.oauth_error_free(error);
                    }
                    else
                    {
                        failure = Native.ErrorOf(rc == 0 ? (uint)ResultCode.Internal : rc, error);
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
                finally
                {
                    if (ptr != IntPtr.Zero) free(ptr);
                }
                if (call != null) call.Finish(result, failure);
            }
            catch (Exception) { }
        }
    }

    /// <summary>One async call: its task, its native cancel token and the registration that
    /// fires it, and the client (kept reachable, so it is not finalized while the call is
    /// pending). Passed to the library as a GCHandle in userdata; freed when done runs.</summary>
    internal sealed class AsyncCall<T>
    {
        readonly TaskCompletionSource<T> tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly OAuthClient owner;
        readonly CancellationToken ct;
        CancelHandle token = CancelHandle.None;
        CancellationTokenRegistration registration;

        internal AsyncCall(OAuthClient owner, CancellationToken ct)
        {
            this.owner = owner;
            this.ct = ct;
        }

        internal delegate uint Start(ClientHandle client, CancelHandle cancel, IntPtr userdata);

        internal Task<T> Submit(Start start)
        {
            if (ct.CanBeCanceled)
            {
                token = CancelHandle.Create();
                registration = ct.Register(CancelNative, token);
            }
            // Everything done needs is set up before the submit: done may run before it returns.
            var gch = GCHandle.Alloc(this);
            Interlocked.Increment(ref AsyncCalls.Pending);
            uint rc;
            try
            {
                rc = start(owner.Handle, token, GCHandle.ToIntPtr(gch));
            }
            catch (Exception)
            {
                // e.g. ObjectDisposedException: Dispose won the race for the SafeHandle.
                Interlocked.Decrement(ref AsyncCalls.Pending);
                gch.Free();
                Release();
                throw;
            }
            if (rc != 0) // rejected: done will never run
            {
                Interlocked.Decrement(ref AsyncCalls.Pending);
                gch.Free();
                Release();
                tcs.TrySetException(new OAuthException((ResultCode)rc, "the library rejected the call: " + (ResultCode)rc +
                    (rc == (uint)ResultCode.Closed ? " (the client was disposed)" : " (a NULL or invalid argument)"), 0, null, null));
            }
            return tcs.Task;
        }

        static void CancelNative(object state)
        {
            try { Native.oauth_cancel_token_cancel((CancelHandle)state); }
            catch (ObjectDisposedException) { } // the call has ended and freed its token
        }

        void Release()
        {
            registration.Dispose(); // waits for a cancel callback that is running right now
            if (!token.IsInvalid) token.Dispose();
        }

        /// <summary>From the completion thread, exactly once.</summary>
        internal void Finish(T result, Exception failure)
        {
            Interlocked.Decrement(ref AsyncCalls.Pending);
            try { Release(); }
            catch (Exception) { }
            var oe = failure as OAuthException;
            if (oe != null && oe.Code == ResultCode.Cancelled && ct.IsCancellationRequested)
                tcs.TrySetCanceled(ct);
            else if (failure != null)
                tcs.TrySetException(failure);
            else
                tcs.TrySetResult(result);
            GC.KeepAlive(owner);
        }
    }
}

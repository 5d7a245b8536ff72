// Default sanitizer settings, compiled into every Voxflow binary and test (the functions are only
// called by a sanitizer runtime, so they cost nothing in normal builds).

extern "C" {

// Debian's gRPC, Abseil and OpenSSL are not built with TSan: their internal synchronisation (absl::Mutex
// included) is invisible to TSan, so races between their own threads are false reports. Reports
// whose stacks are only in our code are still fatal; our concurrent code uses std::mutex, which
// TSan sees through its pthread interceptors.
const char* __tsan_default_suppressions() {
  return "race:libgrpc.so\n"
         "race:libgpr.so\n"
         "race:libgrpc++.so\n"
         "race:libabsl_\n"
         // OpenSSL (TLS under gRPC) likewise: its locks and atomics are uninstrumented.
         "race:libcrypto.so\n"
         "race:libssl.so\n"
         // spdlog's loggers are made in libspdlog (uninstrumented) by main() and reach the
         // request threads through gRPC's start-up, which TSan cannot see either.
         "race:libspdlog.so\n"
         // cpp-httplib (the tests' fake model and audio servers): a global buffer its own
         // worker threads share, inside the uninstrumented library.
         "race:libcpp-httplib.so\n"
         // gRPC's inline C++ (in our binaries) reading a call's status, which gRPC's threads
         // wrote and handed over through its completion queue (uninstrumented).
         "race:grpc::internal::CallOpClientRecvStatus::FinishOp\n"
         // absl::Status shares an error's message by reference count: Ref is inline (seen),
         // the last Unref decrements and frees inside libabsl_status (unseen). An error made on
         // one thread and let go last on another (an HTTP failure on the curl thread, read by
         // the caller) is otherwise reported as the free racing the caller's copy.
         "race:absl::*::Status::Unref\n"
         "deadlock:libgrpc.so\n"
         "deadlock:libabsl_\n"
         // File-descriptor "races" on gRPC's own epoll set (created and waited on by its threads).
         "called_from_lib:libgrpc.so\n";
}

}  // extern "C"

import Glibc

/// SELinux labels as podman sets them around the runtime: the exec label
/// of the processes the shim starts (startCommandGivenSelinux) and the socket
/// creation label before a checkpoint (label.SetSocketLabel). Everything here
/// is a no-op, never an error, where SELinux is off.
public enum SELinux {
    /// libselinux: the linked-in one of the static build, whose constructor
    /// has already looked for selinuxfs before main (reading
    /// /proc/filesystems again cost every shim a /proc read per container);
    /// otherwise loaded on first use and only if the kernel registered
    /// selinuxfs (see SELinuxLibrary for why it is not linked). A `static let`
    /// is initialized once, thread-safely, so this is a cache without a
    /// mutable global.
    static let library: SELinuxLibrary? =
        SELinuxLibrary.isLinked || SELinuxLibrary.kernelMayHaveSELinux() ? SELinuxLibrary.open() : nil

    /// How this build reaches libselinux and what it says here, for
    /// `ocishim --version`. Asks the library itself (loading it in a dynamic
    /// build, even without selinuxfs), so the static build's linked-in
    /// functions run for real on every host.
    public static func buildDescription() -> String {
        let how = SELinuxLibrary.isLinked
            ? "libselinux: linked in (static build)"
            : "libselinux: \(SELinuxLibrary.soname) loaded at run time where selinuxfs exists"
        guard let library = SELinuxLibrary.open() else { return how + "; not installed: SELinux disabled" }
        return how + "; is_selinux_enabled() = \(library.isSELinuxEnabled())"
    }

    /// is_selinux_enabled() > 0; false without the library. Cached: whether
    /// SELinux is on does not change while a shim lives.
    public static let isEnabled: Bool = (library?.isSELinuxEnabled() ?? 0) > 0

    /// The raw setexeccon(3), for the spawner to call in the forked child
    /// (SpawnOptions.setExecCon): setting the label there affects only the
    /// child's exec, so nothing has to be reset afterwards, unlike podman,
    /// which sets and resets it on a locked OS thread. nil when disabled.
    public static var setExecCon: (@convention(c) (UnsafePointer<CChar>?) -> Int32)? {
        isEnabled ? library?.setexeccon : nil
    }

    /// The label of this process (getcon); nil when SELinux is disabled.
    public static func currentLabel() throws(CoreError) -> String? {
        guard isEnabled, let library else { return nil }
        var context: UnsafeMutablePointer<CChar>? = nil
        guard library.getcon(&context) == 0, let context else {
            throw .internal("cannot read the current SELinux label: \(String(cString: strerror(errno)))")
        }
        defer { library.freecon(context) }
        return String(cString: context)
    }

    /// Labels the sockets this thread creates from now on
    /// (setsockcreatecon), as go-selinux's label.SetSocketLabel does before a
    /// checkpoint so that CRIU's sockets get the container's label. nil or ""
    /// resets to the default. A no-op when SELinux is disabled.
    public static func setSocketCreateLabel(_ label: String?) throws(CoreError) {
        guard isEnabled, let library else { return }
        let result: Int32
        if let label, !label.isEmpty {
            result = label.withCString { library.setsockcreatecon($0) }
        } else {
            result = library.setsockcreatecon(nil)
        }
        if result != 0 {
            let err = errno
            let what = (label ?? "").isEmpty ? "reset the SELinux socket label" : "set the SELinux socket label to \(label!)"
            throw .internal("cannot \(what): \(String(cString: strerror(err)))")
        }
    }

    /// The label to exec the OCI runtime with, as podman's
    /// startCommandGivenSelinux computes it: this process's label at level
    /// "s0", so that the container's processes, whatever their categories,
    /// can use the fifos and pipes the shim hands them. nil when SELinux is
    /// disabled or when the current level is already "s0" or absent.
    public static func runtimeExecLabel() throws(CoreError) -> String? {
        guard let current = try currentLabel(), !current.isEmpty else { return nil }
        return try execLabel(forCurrent: current)
    }

    /// The pure part of runtimeExecLabel, for any current label.
    static func execLabel(forCurrent label: String) throws(CoreError) -> String? {
        let context: SELinuxContext
        do throws(CoreError) {
            context = try SELinuxContext(parsing: label)
        } catch {
            throw .internal("cannot derive the runtime's SELinux label from the current one: \(error.message)")
        }
        if context.level == "s0" || context.level.isEmpty { return nil }
        return context.withLevel("s0").string
    }
}

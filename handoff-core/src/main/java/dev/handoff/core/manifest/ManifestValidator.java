package dev.handoff.core.manifest;

import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks a manifest against the descriptors that actually arrived: each entry's descriptor must exist,
 * be used once, and be what the entry says (socket type, listening or not, family, local address).
 * Every problem is reported, not just the first.
 */
public final class ManifestValidator {

    private ManifestValidator() {
    }

    /** Returns the kernel's description of each descriptor, in order, or throws with every problem found. */
    public static List<FdDescription> validate(Manifest manifest, List<FileDescriptor> fds) throws IOException {
        List<String> problems = new ArrayList<>();
        if (manifest.schema() != Manifest.SCHEMA) {
            problems.add("unsupported manifest schema " + manifest.schema() + " (this side reads " + Manifest.SCHEMA + ")");
        }
        if (manifest.fdCount() != fds.size()) {
            problems.add("manifest describes " + manifest.fdCount() + " file descriptors but " + fds.size() + " arrived");
        }
        List<FdDescription> descriptions = new ArrayList<>(fds.size());
        for (FileDescriptor fd : fds) {
            descriptions.add(FdInspector.describe(fd));
        }
        Set<Integer> usedIndexes = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (ListenerEntry listener : manifest.listeners()) {
            String what = "listener '" + listener.name() + "'";
            checkName(listener.name(), names, problems);
            if (!checkIndex(what, listener.fd(), fds.size(), usedIndexes, problems)) {
                continue;
            }
            checkListener(what, listener, descriptions.get(listener.fd()), problems);
        }
        for (FileEntry file : manifest.files()) {
            String what = "file '" + file.name() + "'";
            checkName(file.name(), names, problems);
            if (!checkIndex(what, file.fd(), fds.size(), usedIndexes, problems)) {
                continue;
            }
            FdDescription actual = descriptions.get(file.fd());
            if (file.type() == null || actual.type() != file.type()) {
                problems.add(what + " was announced as " + file.type() + " but is a " + actual);
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidManifestException(problems);
        }
        return descriptions;
    }

    /**
     * Checks one handed-over connection against the kernel's description of its descriptor
     * ({@link FdInspector#describeConnection}): a connected TCP socket, to the peer the entry names. Its local
     * address is checked by {@link #validateLocalAddress}, once a channel has read it.
     */
    public static void validateConnection(ConnectionEntry entry, FdDescription actual) throws InvalidManifestException {
        if (actual.type() != FdType.TCP_CONNECTION) {
            throw new InvalidManifestException(List.of(what(entry) + " should be a " + FdType.TCP_CONNECTION + " but is a " + actual));
        }
        InetSocketAddress remote = actual.remoteAddress();
        if (remote == null) {
            throw new InvalidManifestException(List.of(what(entry) + " is a TCP socket that is not connected"));
        }
        if (remote.getPort() != entry.remotePort() || !sameAddress(remote.getAddress(), entry.remoteAddress())) {
            throw new InvalidManifestException(List.of(what(entry) + " is really a connection to " + remote));
        }
    }

    /** Checks the local address of a handed-over connection, as the kernel gave it, against its entry. */
    public static void validateLocalAddress(ConnectionEntry entry, InetSocketAddress local) throws InvalidManifestException {
        if (local.getPort() != entry.localPort() || !sameAddress(local.getAddress(), entry.localAddress())) {
            throw new InvalidManifestException(List.of(what(entry) + " is really local to " + local));
        }
    }

    private static String what(ConnectionEntry entry) {
        return "connection " + entry.remoteAddress() + ":" + entry.remotePort() + " on '" + entry.listener() + "'";
    }

    private static void checkName(String name, Set<String> names, List<String> problems) {
        if (name == null || name.isBlank()) {
            problems.add("an entry has no name");
        } else if (!names.add(name)) {
            problems.add("name '" + name + "' is used twice");
        }
    }

    private static boolean checkIndex(String what, int index, int count, Set<Integer> used, List<String> problems) {
        if (index < 0 || index >= count) {
            problems.add(what + " points at file descriptor " + index + " of " + count);
            return false;
        }
        if (!used.add(index)) {
            problems.add(what + " shares file descriptor " + index + " with another entry");
            return false;
        }
        return true;
    }

    private static void checkListener(String what, ListenerEntry listener, FdDescription actual, List<String> problems) {
        FdType expected = listener.protocol() == ListenerEntry.Protocol.UDP ? FdType.UDP : FdType.TCP_LISTENER;
        if (actual.type() != expected) {
            problems.add(what + " should be a " + expected + " but is a " + actual);
            return;
        }
        if (!actual.family().name().equals(listener.family())) {
            problems.add(what + " should be " + listener.family() + " but is " + actual.family());
        }
        InetSocketAddress local = actual.localAddress();
        if (local.getPort() != listener.port() || !sameAddress(local.getAddress(), listener.address())) {
            problems.add(what + " should be bound to " + listener.address() + ":" + listener.port()
                    + " but is bound to " + local);
        }
    }

    private static boolean sameAddress(InetAddress actual, String announced) {
        if (announced != null && announced.equals(actual.getHostAddress())) {
            return true; // the usual case, without parsing: both sides format addresses the same way
        }
        if (!isIpLiteral(announced)) {
            return false; // a peer's string must never reach a name lookup
        }
        try {
            return actual.equals(InetAddress.getByName(announced));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Whether {@code text} is written as an IP address, so that {@link InetAddress#getByName} only parses it:
     * four decimal octets, or anything with a colon (the JDK never looks a name with a colon up).
     */
    static boolean isIpLiteral(String text) {
        return text != null && (IPV4.matcher(text).matches() || text.indexOf(':') >= 0 && IPV6.matcher(text).matches());
    }

    private static final java.util.regex.Pattern IPV4 = java.util.regex.Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final java.util.regex.Pattern IPV6 = java.util.regex.Pattern.compile("[0-9a-fA-F:.]+(%[\\w.-]+)?");
}

package dev.handoff.core;

import org.junit.jupiter.api.Assumptions;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.testing.ServerChild;
import dev.handoff.core.testing.ServerFixture;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Peers that should not get the sockets, and input that should not do harm: another user for real, a
 * missing or wrong shared secret, hostile frames. The incumbent refuses each with a clear reason, keeps
 * serving and leaks nothing.
 */
@Timeout(120)
class HostilePeerTest {

    private static final Duration START = Duration.ofSeconds(60);
    private static final long NOBODY = 65534;

    @RegisterExtension
    final ServerFixture fixture = new ServerFixture();

    @Test
    void anotherUserCannotEvenReachTheSocketAndWithTheSocketOpenedToAllItsUidIsRefused() throws Exception {
        assumeTrue(PeerCredentials.ownUid() == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "needs root and setpriv to run a process as another user");
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        // The other user may pass through the test's directory (not list it) to a directory open to all.
        Files.setPosixFilePermissions(fixture.directory(), PosixFilePermissions.fromString("rwx--x--x"));
        Path shared = Files.createDirectory(fixture.directory().resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> classpath = readableClasspath(shared);

        // The 0700 directory keeps the other user out before any credentials are read.
        JavaChild blocked = asNobody(classpath, shared, fixture.socket(), "--allow-uid", "0");
        String denied = blocked.awaitLine("FAILED", START);
        assertTrue(denied.contains("Permission denied"), denied);

        // A misconfigured socket that everyone may open: the kernel's peer credentials still refuse it,
        // on both sides.
        Path link = shared.resolve("h.sock");
        Files.createLink(link, fixture.socket());
        Files.setPosixFilePermissions(link, PosixFilePermissions.fromString("rw-rw-rw-"));
        // While another handoff holds the incumbent, the other user is refused for its uid all the same:
        // it is not told "busy", nor who holds the incumbent.
        JavaChild holder = fixture.start(RawSuccessor.class, fixture.socket().toString(), "hello");
        holder.awaitLine("AT hello", START);
        JavaChild successor = asNobody(classpath, shared, link, "--allow-uid", "0");
        String refused = successor.awaitLine("FAILED", START);
        assertTrue(refused.startsWith("FAILED incumbent refused: peer pid " + successor.pid() + " runs as uid "
                + NOBODY), refused);
        holder.kill9();
        String handoff = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
        assertTrue(handoff.startsWith("HANDOFF REFUSED peer pid " + successor.pid() + " runs as uid " + NOBODY), handoff);
        JavaChild wary = asNobody(classpath, shared, link);
        String wrongIncumbent = wary.awaitLine("FAILED", START);
        assertTrue(wrongIncumbent.startsWith("FAILED the process at " + link + " (pid " + incumbent.pid()
                + ") runs as uid 0, allowed: [" + NOBODY + "]"), wrongIncumbent);
        assertEquals(Long.toString(incumbent.pid()), fixture.fetch()[0]);
    }

    /** The test classpath, with what the other user cannot read (the Maven repository under /root) copied. */
    private static List<String> readableClasspath(Path shared) throws IOException {
        Path jars = Files.createDirectory(shared.resolve("jars"));
        List<String> classpath = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(":")) {
            Path path = Path.of(entry);
            if (entry.startsWith("/root") && Files.isRegularFile(path)) {
                Path copy = jars.resolve(classpath.size() + "-" + path.getFileName());
                Files.copy(path, copy);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                classpath.add(copy.toString());
            } else {
                classpath.add(entry);
            }
        }
        Files.setPosixFilePermissions(jars, PosixFilePermissions.fromString("rwxr-xr-x"));
        return classpath;
    }

    private JavaChild asNobody(List<String> classpath, Path shared, Path socket, String... extra) throws IOException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups"));
        List<String> java = JavaChild.command(ServerChild.class, socket.toString(), Integer.toString(fixture.port()));
        java.addAll(List.of(extra));
        int cp = java.indexOf("-cp");
        java.set(cp + 1, String.join(":", classpath));
        java.add(cp, "-Djava.io.tmpdir=" + shared);
        command.addAll(java);
        return fixture.start(new ProcessBuilder(command));
    }

    @Test
    void withASharedSecretOnlyASuccessorThatKnowsItTakesOver() throws Exception {
        Path secret = secretFile("secret", "correct horse battery staple");
        Path wrong = secretFile("wrong", "incorrect horse battery staple");
        JavaChild incumbent = fixture.server("--secret-file", secret.toString());
        incumbent.awaitLine("READY", START);
        OpenFds fds = OpenFds.of(incumbent.pid());

        String none = fixture.server().awaitLine("FAILED", START);
        assertTrue(none.contains("requires a shared secret and this process has none"), none);
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF REFUSED successor pid"));

        String mismatch = fixture.server("--secret-file", wrong.toString()).awaitLine("FAILED", START);
        assertTrue(mismatch.contains("did not prove the shared secret"), mismatch);
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF REFUSED"));

        // A peer that skips checking the incumbent and sends a made-up proof.
        try (WireChannel wire = new WireChannel(FdChannel.connect(fixture.socket(), FdLimits.DEFAULT))) {
            wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(), 60, List.of(),
                    SharedSecret.nonce(), 0));
            wire.receive(Duration.ofSeconds(10), Message.Welcome.class).close();
            wire.send(new Message.Proof("AAAA"));
            try (WireChannel.Received<Message> answer = wire.receive(Duration.ofSeconds(10), Message.Refused.class)) {
                assertEquals("wrong shared secret", ((Message.Refused) answer.message()).reason());
            }
        }
        String forged = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
        assertTrue(forged.startsWith("HANDOFF REFUSED peer pid " + ProcessHandle.current().pid()
                + " did not prove the shared secret"), forged);
        assertEquals(Long.toString(incumbent.pid()), fixture.fetch()[0]);
        fds.assertNoLeak();

        JavaChild successor = fixture.server("--secret-file", secret.toString());
        assertTrue(successor.awaitLine("READY", START).endsWith("generation=2"));
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
    }

    @Test
    void aSuccessorWithASecretRefusesAnIncumbentWithout() throws Exception {
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        String refused = fixture.server("--secret-file", secretFile("secret", "0123456789abcdef").toString())
                .awaitLine("FAILED", START);
        assertTrue(refused.startsWith("FAILED incumbent refused: this process has no shared secret"), refused);
        String handoff = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
        assertTrue(handoff.startsWith("HANDOFF REFUSED this process has no shared secret, and successor pid"), handoff);
    }

    @Test
    void aSecretFileOthersCanReadOrATooShortSecretIsRefusedAtConfiguration() throws Exception {
        Path open = secretFile("open", "0123456789abcdef0123");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        HandoffOptions.Builder builder = HandoffOptions.builder(fixture.socket());
        SecretFileException readable = assertThrows(SecretFileException.class, () -> builder.sharedSecretFile(open));
        assertTrue(readable.getMessage().contains("chmod 600"), readable.getMessage());
        assertEquals(open, readable.file());
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
                () -> builder.sharedSecret("short".getBytes(StandardCharsets.US_ASCII)));
        assertTrue(tooShort.getMessage().contains("at least 16 bytes"), tooShort.getMessage());
    }

    @Test
    void aSecretFileThatIsALinkBelongsToSomeoneElseOrIsHugeIsRefusedAtConfiguration() throws Exception {
        HandoffOptions.Builder builder = HandoffOptions.builder(fixture.socket());
        Path real = secretFile("real", "0123456789abcdef0123");
        Path link = Files.createSymbolicLink(fixture.directory().resolve("link"), real);
        SecretFileException linked = assertThrows(SecretFileException.class, () -> builder.sharedSecretFile(link));
        assertTrue(linked.getMessage().contains("symbolic link"), linked.getMessage());

        Path foreign = secretFile("foreign", "0123456789abcdef0123");
        Assumptions.assumeTrue(PeerCredentials.ownUid() == 0, "only root can give a file away");
        Files.setAttribute(foreign, "unix:uid", 4242);
        SecretFileException owned = assertThrows(SecretFileException.class, () -> builder.sharedSecretFile(foreign));
        assertTrue(owned.getMessage().contains("belongs to uid 4242"), owned.getMessage());

        Path huge = secretFile("huge", "x".repeat(HandoffOptions.MAX_SECRET_FILE_BYTES + 1));
        SecretFileException large = assertThrows(SecretFileException.class, () -> builder.sharedSecretFile(huge));
        assertTrue(large.getMessage().contains("larger than"), large.getMessage());
        builder.sharedSecretFile(real); // the plain one is fine
    }

    private Path secretFile(String name, String content) throws IOException {
        Path file = Files.writeString(fixture.directory().resolve(name), content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Test
    void hostileFramesAreEachAClearErrorAndTheIncumbentKeepsServingWithoutLeaks() throws Exception {
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        String[] before = fixture.fetch();
        sendRaw(header(100, 0), "x".repeat(10).getBytes(StandardCharsets.US_ASCII)); // warms the JDK's one-time fds
        incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
        OpenFds fds = OpenFds.of(incumbent.pid());
        Map<String, byte[]> frames = Map.of(
                "stream ended after 10 of 100 bytes", concat(header(100, 0), new byte[10]),
                "exceeds the limit", header(Integer.MAX_VALUE, 0),
                "nesting depth", frame("{\"type\":\"hello\",\"versions\":[1],\"extra\":" + "[".repeat(100_000)),
                "Could not resolve type id 'launch'", frame("{\"type\":\"launch\"}"),
                "unexpected Ready message", frame("{\"type\":\"ready\",\"pid\":1}"),
                "malformed frame", frame("{\"type\":\"hello\",\"versions\":\"all\"}"),
                "payload in a non-final chunk", concat(chunkHeader(0, 0, 4), new byte[4]));
        for (Map.Entry<String, byte[]> frame : frames.entrySet()) {
            sendRaw(frame.getValue());
            String failure = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
            assertTrue(failure.startsWith("HANDOFF FAILED") && failure.contains(frame.getKey()),
                    frame.getKey() + " -> " + failure);
        }
        // Descriptors sent where none belong (with a hello, then a stray message) are closed, not kept.
        try (FdChannel channel = FdChannel.connect(fixture.socket(), FdLimits.DEFAULT)) {
            WireChannel wire = new WireChannel(channel);
            wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, 1, 60, List.of(), SharedSecret.nonce(), 0),
                    List.of(FileDescriptor.in, FileDescriptor.out, FileDescriptor.err));
            wire.receive(Duration.ofSeconds(10), Message.Welcome.class).close();
            wire.receive(Duration.ofSeconds(10), Message.Handover.class).close();
            wire.send(new Message.Failed("just looking"), List.of(FileDescriptor.out));
        }
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF FAILED successor failed"));
        assertEquals(before[0], fixture.fetch()[0]);
        fds.assertNoLeak();
    }

    private void sendRaw(byte[]... parts) throws IOException {
        try (AFUNIXSocket raw = AFUNIXSocket.newInstance()) {
            raw.connect(AFUNIXSocketAddress.of(fixture.socket()));
            try {
                OutputStream out = raw.getOutputStream();
                for (byte[] part : parts) {
                    out.write(part);
                }
                out.flush();
                raw.shutdownOutput();
                raw.getInputStream().readAllBytes(); // until the incumbent hangs up
            } catch (IOException hungUpEarly) {
                // the incumbent may stop reading (and reset the connection) as soon as it has seen enough
            }
        }
    }

    private static byte[] frame(String json) {
        byte[] payload = json.getBytes(StandardCharsets.UTF_8);
        return concat(header(payload.length, 0), payload);
    }

    private static byte[] header(int payloadLength, int fds) {
        return chunkHeader(1, fds, payloadLength);
    }

    /** The fd channel's chunk header: magic, flags (bit 0: last chunk), reserved, fd count, payload length. */
    private static byte[] chunkHeader(int flags, int fds, int payloadLength) {
        return ByteBuffer.allocate(12).putInt(0x48464431).put((byte) flags).put((byte) 0).putShort((short) fds)
                .putInt(payloadLength).array();
    }

    private static byte[] concat(byte[] first, byte[] second) {
        return ByteBuffer.allocate(first.length + second.length).put(first).put(second).array();
    }
}

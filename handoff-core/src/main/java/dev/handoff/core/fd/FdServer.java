package dev.handoff.core.fd;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.Closeable;
import java.io.IOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import java.util.Set;
import java.security.SecureRandom;
import java.net.SocketTimeoutException;
import java.util.HexFormat;

/**
 * A listening Unix domain socket at a path, for {@link FdChannel}s. The socket lives in a directory only
 * its owner can enter (0700) and is itself 0600. It is bound under a private name that nobody can guess
 * ({@code .<name>.<128 random bits>}: pids repeat across pid namespaces, and the cross-container mode
 * shares the directory) and a hard link to it is renamed into place, so the path never points at a
 * socket that is not yet listening; a socket file left behind by a crashed process is replaced, a live
 * one only when asked to ({@link #takeOver}). A private name that exists already is an error, never
 * replaced.
 */
public final class FdServer implements Closeable {

    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_SOCKET = PosixFilePermissions.fromString("rw-------");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int UNIQUE_HEX_DIGITS = 32;
    /** A Unix socket address holds a path of at most this many bytes (sun_path is 108, with its NUL). */
    public static final int MAX_ADDRESS_BYTES = 107;
    /** How long {@link #isLive} waits for a connect: a listener whose backlog is full is live, only busy. */
    private static final int PROBE_MILLIS = 1000;

    private final AFUNIXServerSocket server;
    private final Path path;
    private final Path bound;
    private final Object fileKey;
    private final FdLimits limits;
    private boolean closing; // guarded by this
    private int accepting; // guarded by this: threads inside server.accept()

    private FdServer(AFUNIXServerSocket server, Path path, Path bound, Object fileKey, FdLimits limits) {
        this.server = server;
        this.path = path;
        this.bound = bound;
        this.fileKey = fileKey;
        this.limits = limits;
    }

    /** Binds at {@code path}; fails if a live process already listens there. */
    public static FdServer bind(Path path, FdLimits limits) throws IOException {
        return bind(path, limits, false);
    }

    /** Binds at {@code path}, replacing whatever socket is there, live or not (a successor taking over). */
    public static FdServer takeOver(Path path, FdLimits limits) throws IOException {
        return bind(path, limits, true);
    }

    /**
     * Whether a process accepts connections at {@code path}. The probe connects and closes without a
     * byte, which an incumbent takes for what it is: no handoff, nothing recorded.
     */
    public static boolean isLive(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        // newInstance + connect rather than connectTo: the latter leaks its socket when the connect fails.
        try (AFUNIXSocket probe = AFUNIXSocket.newInstance()) {
            probe.connect(AFUNIXSocketAddress.of(path), PROBE_MILLIS);
            return true;
        } catch (SocketTimeoutException e) {
            return true; // someone listens; its backlog is full
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Creates the directory (0700) if it is missing, and refuses one that others can enter or that
     * belongs to someone else: anyone who can reach the socket could ask for the server's sockets.
     */
    public static void prepareDirectory(Path directory) throws IOException {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
            } catch (FileAlreadyExistsException raced) {
                // someone made it meanwhile: check it below like any existing directory
            }
            // createDirectories applies the umask; say exactly what we mean.
            Files.setPosixFilePermissions(directory, OWNER_ONLY_DIR);
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(directory + " is not a directory");
        }
        int owner = (Integer) Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        long self = PeerCredentials.ownUid();
        if (owner != self) {
            throw new IOException("rendezvous directory " + directory + " belongs to uid " + owner
                    + ", not to this process (uid " + self + ")");
        }
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS);
        if (!OWNER_ONLY_DIR.equals(permissions)) {
            throw new IOException("rendezvous directory " + directory + " has mode "
                    + PosixFilePermissions.toString(permissions) + "; it must be rwx------ (0700) so that only its "
                    + "owner can reach the socket (chmod 700 " + directory + ")");
        }
    }

    /**
     * The longest address a server for {@code path} binds, in bytes: its private name beside the path
     * ({@code .<name>.<32 hex digits>}). It must fit a Unix socket address, {@link #MAX_ADDRESS_BYTES}.
     */
    public static int boundAddressBytes(Path path) {
        Path absolute = path.toAbsolutePath();
        return privateName(absolute, "0".repeat(UNIQUE_HEX_DIGITS)).toString().getBytes(StandardCharsets.UTF_8).length;
    }

    private static Path privateName(Path absolute, String unique) {
        return absolute.resolveSibling("." + absolute.getFileName() + "." + unique);
    }

    private static FdServer bind(Path path, FdLimits limits, boolean replaceLive) throws IOException {
        Path absolute = path.toAbsolutePath();
        Path directory = Objects.requireNonNull(absolute.getParent(), "socket path needs a directory");
        prepareDirectory(directory);
        // junixsocket's accept() stops working once the path it bound disappears, so the bound name
        // stays for this server's lifetime; a hard link to it is renamed into place atomically.
        byte[] random = new byte[UNIQUE_HEX_DIGITS / 2];
        RANDOM.nextBytes(random);
        String unique = HexFormat.of().formatHex(random);
        Path bound = privateName(absolute, unique);
        Path link = bound.resolveSibling(bound.getFileName() + ".link");
        if (Files.exists(bound, LinkOption.NOFOLLOW_LINKS) || Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(bound.toString(), null, "a private socket name is taken: "
                    + "someone else is writing into " + directory);
        }
        AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
        boolean boundHere = false;
        boolean linked = false;
        try {
            server.setDeleteOnClose(false);
            server.bind(AFUNIXSocketAddress.of(bound), 128);
            boundHere = true;
            Files.setPosixFilePermissions(bound, OWNER_ONLY_SOCKET);
            if (!replaceLive && isLive(absolute)) {
                throw new SocketException("another process is listening at " + absolute);
            }
            Files.createLink(link, bound);
            linked = true;
            try {
                Files.move(link, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename a socket into place at " + absolute, e);
            }
            Object key = Files.readAttributes(absolute, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return new FdServer(server, absolute, bound, key, limits);
        } catch (IOException | RuntimeException e) {
            server.close();
            if (linked) {
                Files.deleteIfExists(link);
            }
            if (boundHere) {
                Files.deleteIfExists(bound);
            }
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** Waits for the next connection; throws once {@link #close()} was called. */
    public FdChannel accept() throws IOException {
        synchronized (this) {
            if (closing) {
                throw closed();
            }
            accepting++;
        }
        AFUNIXSocket socket;
        boolean closingNow;
        try {
            socket = server.accept();
        } finally {
            synchronized (this) {
                accepting--;
                closingNow = closing;
                notifyAll();
            }
        }
        if (closingNow) {
            socket.close();
            throw closed();
        }
        try {
            return new FdChannel(socket, limits);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private synchronized void awaitAcceptorsGone(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (accepting > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                wait(Math.max(1, left / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private SocketException closed() {
        return new SocketException("rendezvous socket " + path + " is closed");
    }

    /** Whether the path still names this server's socket (a successor may have renamed its own over it). */
    public boolean ownsPath() {
        try {
            return fileKey.equals(Files.readAttributes(path, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey());
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops listening; removes the socket file only if it is still this server's. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            closing = true;
        }
        // A thread blocked in accept(2) is not woken by close(2), and keeps the socket alive while it
        // waits: connect once so that it returns, sees the flag, and lets go. The server socket is closed
        // only after it has returned: junixsocket drops (and leaks) a socket it accepted if its server
        // was closed meanwhile.
        try (AFUNIXSocket wake = AFUNIXSocket.newInstance()) {
            wake.connect(AFUNIXSocketAddress.of(bound));
        } catch (IOException nobodyWaiting) {
            // already closed, or the backlog is gone: nothing to wake
        }
        awaitAcceptorsGone(Duration.ofSeconds(1));
        try {
            if (ownsPath()) {
                try {
                    Files.delete(path);
                } catch (NoSuchFileException gone) {
                    // already removed
                }
            }
        } finally {
            try {
                server.close();
            } finally {
                Files.deleteIfExists(bound);
            }
        }
    }
}

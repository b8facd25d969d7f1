package dev.handoff.spring;

import org.opentest4j.TestAbortedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The threads of a process blocked in accept(2) on a TCP socket listening on a given port, as Linux's
 * {@code /proc} shows them: each thread's system call and its first argument (the descriptor), which
 * must be a socket that {@code /proc/net/tcp} or {@code tcp6} lists as listening on the port.
 */
final class AcceptingThreads {

    private AcceptingThreads() {
    }

    static long count(long pid, int port) throws IOException {
        Set<Integer> accept = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> Set.of(43, 288); // accept, accept4
            case "aarch64" -> Set.of(202, 242);
            default -> throw new TestAbortedException("no accept(2) numbers for " + System.getProperty("os.arch"));
        };
        Set<String> listening = listeningSockets(port);
        Path process = Path.of("/proc", Long.toString(pid));
        try (Stream<Path> tasks = Files.list(process.resolve("task"))) {
            return tasks.filter(task -> {
                String[] call = read(task.resolve("syscall")).trim().split(" ");
                if (call.length < 2 || !call[0].matches("\\d+") || !accept.contains(Integer.parseInt(call[0]))) {
                    return false;
                }
                Path descriptor = process.resolve("fd").resolve(Long.toString(Long.decode(call[1])));
                try {
                    return listening.contains(Files.readSymbolicLink(descriptor).toString());
                } catch (IOException closed) {
                    return false;
                }
            }).count();
        }
    }

    /** The {@code socket:[inode]} names of the TCP sockets listening on {@code port}. */
    private static Set<String> listeningSockets(int port) throws IOException {
        String local = String.format(Locale.ROOT, ":%04X", port);
        Set<String> sockets = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length > 9 && fields[1].endsWith(local) && fields[3].equals("0A")) {
                    sockets.add("socket:[" + fields[9] + "]");
                }
            }
        }
        return sockets;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException gone) {
            return ""; // the thread ended
        }
    }
}

package dev.handoff.harness;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code supervise [--archive PATH] -- <server command...>}: a small PID 1 for containers. When the serving process is PID 1
 * and exits after a handoff, the container dies with it; so PID 1 is this supervisor instead. It starts
 * the server command, follows it from generation to generation (each generation writes its pid to the pid
 * file when it serves, whoever started it: this supervisor on SIGHUP, or {@code docker exec} with the same
 * command), forwards SIGTERM and SIGINT (as SIGTERM, a graceful stop) to the generation that serves,
 * turns SIGHUP into a new generation that it starts itself with the same command (so that every
 * generation it knows of is its own child, which the JDK reaps), and exits with the last generation's
 * status. With {@code --archive}, each generation starts with that {@link StartupArchive} if it fits.
 *
 * <p>The pid file is the command's {@code --pid-file PATH}, or {@code --handoff.pid-file=PATH} (a Spring Boot
 * application with the starter); a command without either but with {@code --socket PATH} gets
 * {@code --pid-file PATH.pid} added (the sample server's options).
 */
final class Supervisor {

    private final List<String> command;
    private final Path pidFile;
    private final StartupArchive archive;
    private volatile Process child;
    private volatile long serving;

    private Supervisor(List<String> command, Path pidFile, StartupArchive archive) {
        this.command = command;
        this.pidFile = pidFile;
        this.archive = archive;
    }

    /** {@code [--archive PATH] -- <server command...>}. */
    static int run(List<String> args) throws Exception {
        List<String> command = new ArrayList<>(args);
        StartupArchive archive = null;
        if (command.size() >= 2 && command.get(0).equals("--archive")) {
            archive = new StartupArchive(Path.of(command.get(1)));
            command.subList(0, 2).clear();
        }
        if (!command.isEmpty() && command.get(0).equals("--")) {
            command.remove(0);
        }
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no server command; " + Main.USAGE);
        }
        String pidFile = valueOf(command, "--pid-file").or(() -> springValueOf(command, "--handoff.pid-file")).orElse(null);
        if (pidFile == null) {
            pidFile = valueOf(command, "--socket").map(socket -> socket + ".pid").orElseThrow(() -> new IllegalArgumentException(
                    "the server command names no --pid-file (nor a --socket to put one beside): " + command));
            command.addAll(List.of("--pid-file", pidFile));
        }
        return new Supervisor(command, Path.of(pidFile), archive).supervise();
    }

    /** {@code --name=value}, as a Spring Boot application (the starter's {@code handoff.pid-file}) takes it. */
    private static Optional<String> springValueOf(List<String> command, String option) {
        return command.stream().filter(arg -> arg.startsWith(option + "=")).map(arg -> arg.substring(option.length() + 1)).findFirst();
    }

    private static Optional<String> valueOf(List<String> command, String option) {
        int index = command.indexOf(option);
        return index >= 0 && index + 1 < command.size() ? Optional.of(command.get(index + 1)) : Optional.empty();
    }

    private int supervise() throws Exception {
        Signal.handle(new Signal("TERM"), signal -> forward("TERM"));
        Signal.handle(new Signal("INT"), signal -> forward("INT"));
        if (Signal.handle(new Signal("HUP"), signal -> startNextGeneration()) == SignalHandler.SIG_IGN) {
            // The JVM keeps a signal ignored that was ignored when it started (nohup does that).
            System.out.println("SUPERVISOR cannot restart on SIGHUP: it was started with SIGHUP ignored (nohup?)");
        }
        System.out.println("SUPERVISOR pid=" + ProcessHandle.current().pid() + " pid-file=" + pidFile);
        Process first = startGeneration();
        serving = first.pid();
        Integer lastStatus = null;
        while (true) {
            ProcessHandle current = ProcessHandle.of(serving).orElse(null);
            if (current != null) {
                current.onExit().join();
            }
            Process exited = child != null && child.pid() == serving ? child : null;
            if (exited != null) {
                lastStatus = exited.waitFor();
            }
            Optional<Long> next = successorPid();
            if (next.isEmpty()) {
                // Give a successor that is just now writing its pid file a moment.
                TimeUnit.MILLISECONDS.sleep(500);
                next = successorPid();
            }
            if (next.isEmpty()) {
                int status = lastStatus == null ? 0 : lastStatus;
                System.out.println("SUPERVISOR exits with the last generation's status " + status);
                return status;
            }
            System.out.println("SUPERVISOR follows pid " + next.get());
            serving = next.get();
        }
    }

    /**
     * Starts a generation as this process's child; it takes over from the serving one by itself. With a
     * start-up archive, the archive is checked against the command each time (a deploy may have replaced the
     * jar), and left out with a warning if it no longer fits.
     */
    private synchronized Process startGeneration() throws IOException, InterruptedException {
        List<String> generation = command;
        if (archive != null) {
            generation = archive.using(command, warning -> System.out.println("SUPERVISOR " + warning));
            if (generation != command) {
                System.out.println("SUPERVISOR starts with the start-up archive " + archive.path());
            }
        }
        child = new ProcessBuilder(generation).inheritIO().start(); // the JDK waits for (reaps) every process it starts
        return child;
    }

    /** On SIGHUP: the serving generation keeps serving if its successor cannot even be started. */
    private void startNextGeneration() {
        try {
            startGeneration();
        } catch (IOException e) {
            System.out.println("SUPERVISOR could not start a generation: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGTERM (the JDK's destroy) to the serving generation: a graceful stop, for TERM and INT alike. */
    private void forward(String signal) {
        System.out.println("SUPERVISOR forwards SIG" + signal + " to pid " + serving + " as SIGTERM");
        ProcessHandle.of(serving).ifPresent(ProcessHandle::destroy);
    }

    /** The live process the pid file names, if it is not the one followed so far. */
    private Optional<Long> successorPid() {
        return servingPid().filter(pid -> pid != serving && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    }

    private Optional<Long> servingPid() {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile, StandardCharsets.US_ASCII).trim()));
        } catch (IOException | NumberFormatException e) { // none written yet
            return Optional.empty();
        }
    }
}

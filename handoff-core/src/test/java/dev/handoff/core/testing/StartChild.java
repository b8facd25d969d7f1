package dev.handoff.core.testing;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;

import java.nio.file.Path;

/** Calls Handoff.start and prints what happened; run without the JVM flags to see the error. */
public final class StartChild {

    public static void main(String[] args) {
        try (Handoff handoff = Handoff.start(HandoffOptions.builder(Path.of(args[0])).build())) {
            System.out.println("STARTED generation=" + handoff.generation());
        } catch (Exception e) {
            System.out.println("ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}

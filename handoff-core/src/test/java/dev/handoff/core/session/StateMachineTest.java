package dev.handoff.core.session;

import dev.handoff.core.wire.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both roles' state machines: every (state, message) and (state, fault) pair leads somewhere, final states stay final, only
 * final states expect nothing and have no deadline without saying why, and docs/protocol.md draws exactly
 * these tables (a change to either shows here).
 */
@Timeout(30)
class StateMachineTest {

    private static final Path PROTOCOL_DOC = Path.of("..", "docs", "protocol.md");

    @Test
    void everyIncumbentStateHasAnOutcomeForEveryFaultAndFinalStatesStay() {
        assertEveryPairDefined(IncumbentState.values());
        // No incumbent state waits for ever for a peer that may never answer: the incumbent must serve on.
        for (IncumbentState state : IncumbentState.values()) {
            if (!state.expects().isEmpty()) {
                assertFalse(state.deadline() == Deadline.NONE, state + " waits for a message and needs a deadline");
            }
        }
    }

    @Test
    void everySuccessorStateHasAnOutcomeForEveryFaultAndFinalStatesStay() {
        assertEveryPairDefined(SuccessorState.values());
        // A successor before its manifest starts cold only when the incumbent is gone: else it would collide.
        for (SuccessorState early : List.of(SuccessorState.CONNECTING, SuccessorState.AWAIT_WELCOME, SuccessorState.AWAIT_MANIFEST)) {
            for (Fault fault : Fault.values()) {
                assertEquals(fault == Fault.PEER_DIED, early.after(fault) == SuccessorState.COLD, early + " x " + fault);
            }
        }
    }

    private static void assertEveryPairDefined(SessionState[] states) {
        for (SessionState state : states) {
            for (Fault fault : Fault.values()) {
                SessionState next = state.after(fault);
                assertNotNull(next, state + " x " + fault);
                if (state.isFinal()) {
                    assertEquals(state, next, "a final state stays final: " + state + " x " + fault);
                }
            }
            if (state.isFinal()) {
                assertTrue(state.expects().isEmpty(), state + " is final and expects nothing");
            }
            // Every message type: expected ones lead somewhere, any other is the UNEXPECTED fault.
            for (Class<?> type : Message.class.getPermittedSubclasses()) {
                @SuppressWarnings("unchecked")
                Class<? extends Message> message = (Class<? extends Message>) type;
                assertEquals(state.expects().contains(message), !state.on(message).isEmpty(), state + " x " + message.getSimpleName());
            }
        }
    }

    @Test
    void docsProtocolDrawsBothTablesAsTheCodeHasThem() throws IOException {
        String doc = Files.readString(PROTOCOL_DOC);
        for (String row : table("incumbent", IncumbentState.values())) {
            assertTrue(doc.contains(row), "docs/protocol.md lacks the row (or has another):\n" + row);
        }
        for (String row : table("successor", SuccessorState.values())) {
            assertTrue(doc.contains(row), "docs/protocol.md lacks the row (or has another):\n" + row);
        }
    }

    /** The markdown rows: state, deadline, the messages that move it on, then where each fault leads. */
    static List<String> table(String role, SessionState[] states) {
        List<String> rows = new ArrayList<>();
        StringBuilder header = new StringBuilder("| " + role + " state | deadline | message → next state |");
        StringBuilder rule = new StringBuilder("|---|---|---|");
        for (Fault fault : Fault.values()) {
            header.append(' ').append(fault).append(" |");
            rule.append("---|");
        }
        rows.add(header.toString());
        rows.add(rule.toString());
        for (SessionState state : states) {
            StringBuilder row = new StringBuilder("| " + state + " | ");
            row.append(state.isFinal() ? "final" : state.deadline().name().toLowerCase(Locale.ROOT)).append(" | ");
            row.append(state.expects().isEmpty() ? "—" : state.expects().stream().map(type -> "`" + wireName(type) + "` → "
                    + state.on(type).stream().map(Object::toString).collect(Collectors.joining(" / ")))
                    .collect(Collectors.joining("; "))).append(" |");
            for (Fault fault : Fault.values()) {
                SessionState next = state.after(fault);
                row.append(' ').append(next == state ? "—" : next.toString()).append(" |");
            }
            rows.add(row.toString());
        }
        return rows;
    }

    private static String wireName(Class<? extends Message> type) {
        com.fasterxml.jackson.annotation.JsonSubTypes subTypes = Message.class.getAnnotation(
                com.fasterxml.jackson.annotation.JsonSubTypes.class);
        for (com.fasterxml.jackson.annotation.JsonSubTypes.Type subType : subTypes.value()) {
            if (subType.value() == type) {
                return subType.name();
            }
        }
        throw new IllegalArgumentException(type + " has no wire name");
    }

    /** Prints both tables, for docs/protocol.md. */
    public static void main(String[] args) {
        table("incumbent", IncumbentState.values()).forEach(System.out::println);
        System.out.println();
        table("successor", SuccessorState.values()).forEach(System.out::println);
    }
}

package org.carevisor.protocol;

/**
 * An agent's answer to "switch this host off" (the last phase of a site shutdown). The agent does what its own
 * configuration says ({@code --power-off-action}); the manager never names a command.
 *
 * @param action {@code none} (the host stays on: it is switched off by hand or by its own UPS client),
 *               {@code exit} (the agent process ends, as in a lab) or {@code poweroff} (the host's system is
 *               powered off)
 * @param detail what happens, for the operator
 */
public record PowerOffAnswer(String action, String detail) {
}

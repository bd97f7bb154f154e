package org.carevisor.protocol;

/**
 * A piece of a VM's serial console log.
 *
 * @param offset     byte offset of {@code text} in the log
 * @param nextOffset offset to ask for to continue reading
 * @param text       console output (UTF-8, invalid bytes replaced)
 */
public record ConsoleChunk(long offset, long nextOffset, String text) {
}

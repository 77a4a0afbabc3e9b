/**
 * What the bench must undo, undone last-in first-out by `run()` whatever happened: every child process and
 * temporary folder is registered here the moment it exists. A failing step is reported and the rest still run.
 */
export class Cleanup {
  private readonly steps: { name: string; undo: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  defer(name: string, undo: () => unknown): void {
    this.steps.push({ name, undo });
  }

  run(): Promise<void> {
    return (this.running ??= this.drain());
  }

  private async drain(): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        process.stderr.write(`cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}

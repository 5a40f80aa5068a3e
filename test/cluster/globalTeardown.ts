/** Jest global teardown for the e2e project: takes the local control plane down (filled in by test/cluster). */
export default async function globalTeardown(): Promise<void> {}

// `wod drift --stack NAME`: placeholder until the drift check lands.
export async function driftCommand(_argv: string[]): Promise<number> {
  return 2;
}

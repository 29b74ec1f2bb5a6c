// A persona app's concept map as it grows with use: `count` concepts in the app's layout, with
// comments. About 375 bytes a concept: 4,000 make 1.5 MB.
export function conceptMap(count) {
  const concepts = Array.from({ length: count }, (_, index) => ({
    name: `concept ${index}`,
    description: `what persona ${index % 4} learned about the user, number ${index}, with some words on where it came up and how sure the persona is`,
    level_current: 0.5,
    level_ideal: 0.5,
    level_elasticity: 0.1,
    type: 'topic',
    learned_by: ['ada'],
    last_updated: '2026-12-01T10:00:00.000Z',
  }));
  const body = JSON.stringify({ entity: 'human', saves: 0, aliases: ['Ada'], concepts }, null, 2);
  return `// What the personas know about the user.\n${body.replace('"concepts": [', '"concepts": [ // learned so far')}\n`;
}

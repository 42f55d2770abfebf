import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function ModelDetail({ name }: { name: string }) {
  return <Page title={name}>{null}</Page>;
}

import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function DatasetDetail({ id }: { id: string }) {
  return <Page title={id}>{null}</Page>;
}
